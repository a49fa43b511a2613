"""Fixtures shared across packages: Ray clean-up, and tiny demo shards made once per test session."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import ray

from search.cluster import init_ray
from search.shards import prepare_shards
from tests.search.tiny import TINY, tiny_config

# The suite runs as on a machine that never ran Ray: an empty temp root (no /tmp/ray, no Ray address file, no
# posetune-ray folder) and an empty HOME (no ~/.ray auth token, no W&B or matplotlib settings), made at start
# and removed at the end, for this process and every subprocess it starts. Kept short: Ray's socket paths
# must fit in 107 bytes.
FRESH_ROOT_ENV = "POSETUNE_TEST_FRESH_ROOT"


def pytest_configure(config):
    root = tempfile.mkdtemp(prefix="pt-", dir="/tmp")
    for sub in ("tmp", "home"):
        os.mkdir(os.path.join(root, sub), mode=0o700)
    os.environ[FRESH_ROOT_ENV] = root
    os.environ["TMPDIR"] = os.path.join(root, "tmp")
    os.environ["HOME"] = os.path.join(root, "home")
    for name in ("RAY_TMPDIR", "RAY_ADDRESS", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "WANDB_DIR"):
        os.environ.pop(name, None)
    tempfile.tempdir = None  # gettempdir() caches its first answer


def pytest_unconfigure(config):
    root = os.environ.get(FRESH_ROOT_ENV)
    if root and os.path.basename(root).startswith("pt-"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def restore_environment():
    """Each test gets the environment the previous one started with: the commands a test runs in-process
    set variables for their own Ray and W&B (RAY_TMPDIR, WANDB_MODE, ...), as they may in a CLI process
    that exits; left behind, they changed how a later test's Ray cluster started its trials."""
    import os

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    _sync_ray_auth_mode()


def _sync_ray_auth_mode() -> None:
    """Ray caches RAY_AUTH_MODE in its C++ config when it connects and re-reads it only when it turns token auth
    on by itself; after a test that joined a loopback cluster with `disabled`, the restored `token` would start
    the next local Ray's GCS with token auth while this process talked to it without one (InvalidAuthToken)."""
    from ray._raylet import AuthenticationMode, Config, get_authentication_mode

    wants_token = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    has_token = get_authentication_mode() == AuthenticationMode.TOKEN
    if wants_token != has_token and not ray.is_initialized():
        Config.initialize("")


@pytest.fixture
def ray_session():
    """Ray is started by the code under test (search.cluster.init_ray); this makes sure it goes away."""
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def shard_root(tmp_path_factory):
    """Demo data generated and enhanced once (brightness on and off) for every search test."""
    root = tmp_path_factory.mktemp("shards")
    config = tiny_config(root, data={**TINY["data"], "shards": str(root)})
    init_ray(None, {})
    try:
        prepare_shards(config)
        prepare_shards(config.with_params({"data.brightness": False}))
    finally:
        ray.shutdown()
    return str(root)


@pytest.fixture(scope="session")
def tiny_search(tmp_path_factory, shard_root):
    """One real finished search (TINY: 4 trials of 2 epochs, ASHA, W&B offline) shared by every test that only
    reads a search back (inspect, export, predict, tampered copies, the CLI fuzz): `(config, outcome)`.
    Tests that change an experiment work on a copy of `outcome.experiment_uri`."""
    from search.tuner import launch

    tmp = tmp_path_factory.mktemp("tiny-search")
    config = tiny_config(tmp, data={**TINY["data"], "shards": shard_root})
    try:
        outcome = launch(config, name="tiny")
    finally:
        ray.shutdown()
    return config, outcome

