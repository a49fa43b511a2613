"""Fixtures shared across packages: Ray clean-up, and tiny demo shards made once per test session."""

from __future__ import annotations

import pytest
import ray

from search.cluster import init_ray
from search.shards import prepare_shards
from tests.search.tiny import TINY, tiny_config


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
