"""Fixtures shared across packages: the suite's own Ray cluster, Ray clean-up, and tiny demo shards made once
per test session."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import ray

from search.cluster import init_ray
from search.shards import prepare_shards
from tests.s3_server import credentials_env
from tests.search.tiny import STUDY_ARMS, TINY, tiny_config

# The suite runs as on a machine that never ran Ray: an empty temp root (no /tmp/ray, no Ray address file, no
# posetune-ray folder) and an empty HOME (no ~/.ray auth token, no W&B or matplotlib settings), made at start
# and removed at the end, for this process and every subprocess it starts. Kept short: Ray's socket paths
# must fit in 107 bytes.
FRESH_ROOT_ENV = "POSETUNE_TEST_FRESH_ROOT"
REPO_ROOT = Path(__file__).resolve().parents[1]


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


@contextlib.contextmanager
def environment_kept():
    """The environment as it was, whatever the code inside sets: the commands a test or a shared fixture
    runs in-process set variables for their own Ray, Tune and W&B (RAY_TMPDIR, WANDB_MODE,
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS, ...), as they may in a CLI process that exits; left behind, they
    changed how a later test's Ray cluster started its trials and what Tune wrote for them."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _sync_ray_auth_mode()


@pytest.fixture(autouse=True)
def restore_environment():
    """Each test gets the environment the previous one started with (`environment_kept`)."""
    with environment_kept():
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """A test module's shared fixture leaves the environment as it found it (`environment_kept`): set up
    before the first test's own snapshot, what it set stayed for every later test (a study's
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS once kept Tune from logging a cluster test's results). pytest asks
    this conftest about the fixtures of test modules and tests only; the session fixtures below keep it
    themselves."""
    if fixturedef.scope != "module":
        yield
        return
    with environment_kept():
        yield


def _sync_ray_auth_mode() -> None:
    """Ray caches RAY_AUTH_MODE in its C++ config when it connects and re-reads it only when it turns token auth
    on by itself; after a test that joined a loopback cluster with `disabled`, the restored `token` would start
    the next local Ray's GCS with token auth while this process talked to it without one (InvalidAuthToken)."""
    from ray._raylet import AuthenticationMode, Config, get_authentication_mode

    wants_token = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    has_token = get_authentication_mode() == AuthenticationMode.TOKEN
    if wants_token != has_token and not ray.is_initialized():
        Config.initialize("")


@pytest.fixture(scope="session", autouse=True)
def suite_ray_cluster():
    """One Ray head (two CPUs, in the fresh root) that every test's driver joins as a job of its own through
    RAY_ADDRESS, as drivers join a real cluster; CLI processes a test starts with this environment join it too.
    A local Ray costs about 4 CPU-s to start and 1.3 s to stop, and the suite would start about 40.
    Tests of the local-start path itself ask for `local_ray`; the cluster tests start clusters of their own."""
    from ray.cluster_utils import Cluster

    temp_dir = os.path.join(os.environ[FRESH_ROOT_ENV], "r")
    os.makedirs(os.path.join(temp_dir, "ray"), mode=0o700)  # private, like the one init_ray makes
    _turn_on_token_auth()  # for the whole session: the cluster and every driver
    with environment_kept():  # what only the cluster's own processes get
        # Cluster writes its address file into Ray's default temp dir; its workers import the checkout and
        # the test modules (Tune pickles a test's trainable by reference to its module) from any cwd.
        os.environ["RAY_TMPDIR"] = temp_dir
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        os.environ.update(credentials_env())  # the nodes' own credentials for the tests' S3 server
        cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 2, "temp_dir": temp_dir, "include_dashboard": False}
        )
    os.environ["RAY_ADDRESS"] = cluster.address
    try:
        yield cluster
    finally:
        os.environ.pop("RAY_ADDRESS", None)
        ray.shutdown()
        cluster.shutdown()


def _turn_on_token_auth() -> None:
    """Token auth for every Ray in the suite, as a local `ray.init()` turns it on by itself: the token made now in
    the fresh HOME, the mode in the environment before any process reads it. A driver in token mode answers no
    call from a worker without a token, so the suite's cluster and its drivers must agree from the start."""
    from ray._private.authentication.authentication_token_setup import ensure_token_if_auth_enabled

    os.environ["RAY_AUTH_MODE"] = "token"
    _sync_ray_auth_mode()
    ensure_token_if_auth_enabled(None, create_token_if_missing=True)


@pytest.fixture
def ray_session():
    """Ray is started or joined by the code under test (search.cluster.init_ray); this makes sure it goes away."""
    yield
    ray.shutdown()


@pytest.fixture
def local_ray(monkeypatch, ray_session):
    """The code under test starts a local Ray of its own, as on a laptop with no cluster (no RAY_ADDRESS)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@pytest.fixture(scope="session")
def shard_root(tmp_path_factory):
    """Demo data generated and enhanced once (brightness on and off) for every search test."""
    root = tmp_path_factory.mktemp("shards")
    config = tiny_config(root, data={**TINY["data"], "shards": str(root)})
    with environment_kept():
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
    with environment_kept():
        try:
            outcome = launch(config, name="tiny")
        finally:
            ray.shutdown()
    return config, outcome


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory, shard_root):
    """One real `posetune study` (STUDY_ARMS x 2 seeds of 2 epochs, from one pretrained warm start) shared by
    the tests that read a study back: `(root, printed)`, its storage under `root / "runs"`, its
    tables in `root / "study"`, `printed` what the command wrote to stdout."""
    import io

    import yaml

    from search.cli import main

    root = tmp_path_factory.mktemp("tiny-study")
    config = tiny_config(
        root,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 2, "steps_per_epoch": 2},
        tracking={"wandb": "none"},
        warm_start={"pretrain_epochs": 1, "pretrain_set": {"train.steps_per_epoch": 2}},
    )
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    argv = ["study", "--config", str(path), "--seeds", "2", "--arms", ",".join(STUDY_ARMS), "--out", str(root / "study")]
    printed = io.StringIO()
    with environment_kept(), contextlib.redirect_stdout(printed):
        try:
            code = main(argv)
        finally:
            ray.shutdown()
    assert code == 0, printed.getvalue()[-3000:]
    return root, printed.getvalue()
