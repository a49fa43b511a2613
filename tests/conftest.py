"""Fixtures shared across packages: tiny demo shards made once per test session with real Ray Data."""

from __future__ import annotations

import pytest

from tests.search.conftest import TINY, tiny_config


@pytest.fixture(scope="session")
def shard_root(tmp_path_factory):
    """Demo data generated and enhanced once (brightness on and off) for every search test."""
    import ray

    from search.data import prepare_shards
    from search.tuner import init_ray

    root = tmp_path_factory.mktemp("shards")
    config = tiny_config(root, data={**TINY["data"], "shards": str(root)})
    init_ray(None, {})
    try:
        prepare_shards(config)
        prepare_shards(config.with_params({"data.brightness": False}))
    finally:
        ray.shutdown()
    return str(root)
