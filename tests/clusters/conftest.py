"""Fixtures for the multi-node tests: a real Ray cluster on loopback that is always torn down.

Every cluster here gets its own Ray temp dir, so its processes can be told apart from other Ray
instances on the machine (by the temp dir in their command line, plus their children) and the
tests can prove that nothing they started outlives them.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from tests.clusters.cluster_procs import start_multinode_cluster, wait_gone


@pytest.fixture
def ray_temp_dir():
    """A short private Ray temp dir (Unix socket paths must stay under 108 bytes)."""
    path = tempfile.mkdtemp(prefix="ptray-", dir="/tmp")
    yield path
    left = wait_gone(path, timeout=5)
    for pid in left:  # last resort: only processes of this test's own cluster, by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"Ray processes outlived the test: {left}"
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_ray_auth(monkeypatch):
    """Loopback test clusters run without token auth (Ray 2.60 turns it on when ~/.ray/auth_token exists)."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # Stand-in for "posetune installed on every node": Ray's worker processes import the checkout,
    # and the test modules here (Tune pickles a test's trainable by reference to its module).
    here = Path(__file__).resolve().parent
    paths = (str(here.parents[1]), str(here), os.environ.get("PYTHONPATH"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


@pytest.fixture
def multinode_cluster(ray_temp_dir, no_ray_auth):
    """Head with no CPUs for trials and two workers with one CPU and one logical GPU each; driver connected."""
    import ray

    cluster = start_multinode_cluster(ray_temp_dir)
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        yield cluster
    finally:
        # Each step on its own: a cluster that already lost nodes must not leave the driver connected
        # (every later test's ray.init would then fail) or RAY_ADDRESS pointing at it.
        os.environ.pop("RAY_ADDRESS", None)
        try:
            ray.shutdown()
        finally:
            cluster.shutdown()
