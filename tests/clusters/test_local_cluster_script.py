"""`clusters/local-cluster.sh`: a real multi-node Ray on this machine, up and fully down again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clusters.cluster_procs import ray_processes

SCRIPT = Path(__file__).resolve().parents[2] / "clusters" / "local-cluster.sh"
VENV_BIN = str(Path(sys.executable).parent)

# A driver on the cluster: one 1-CPU/1-GPU task per worker slot must land on both workers, none on the head.
DRIVER = """
import ray
ray.init(log_to_driver=False)
head = [n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"]]
@ray.remote(num_cpus=1, num_gpus=1)
def where():
    import time; time.sleep(0.5)
    return ray.get_runtime_context().get_node_id()
nodes = set(ray.get([where.remote() for _ in range(4)]))
print(len(nodes), bool(set(head) & nodes))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def script_env(tmp_path):
    port = _free_port()
    cluster_dir = f"/tmp/ptlc-{port}"
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_MODE", None)  # the script must pick a working mode by itself
    env.update(
        PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
        POSETUNE_CLUSTER_PORT=str(port),
        POSETUNE_CLUSTER_DIR=cluster_dir,
    )
    yield env, port, cluster_dir
    # Whatever happened above, nothing of this cluster may survive the test.
    subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
    assert ray_processes(cluster_dir) == []


def _run(env, *args, timeout=120):
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_start_status_use_and_stop_leave_nothing_behind(script_env):
    env, port, cluster_dir = script_env
    started = _run(env, "start", "2")
    assert started.returncode == 0, started.stderr + started.stdout
    assert f"RAY_ADDRESS=127.0.0.1:{port}" in started.stdout
    raylets = [
        pid for pid in ray_processes(cluster_dir) if "raylet" in Path(f"/proc/{pid}/cmdline").read_text()
    ]
    assert len(raylets) == 3  # head + 2 workers, each its own raylet

    again = _run(env, "start", "2")
    assert again.returncode == 0 and "already running" in again.stdout
    other = _run(env, "start", "3")
    assert other.returncode == 1 and "stop" in other.stderr

    status = _run(env, "status")
    assert status.returncode == 0, status.stderr
    assert "2 worker node(s)" in status.stdout
    assert (
        "0.0/2.0 CPU" in status.stdout and "0.0/2.0 GPU" in status.stdout and "enhance_cpu" in status.stdout
    )

    driver_env = dict(env, RAY_ADDRESS=f"127.0.0.1:{port}", RAY_AUTH_MODE="disabled")
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER], env=driver_env, capture_output=True, text=True, timeout=120
    )
    assert driver.returncode == 0, driver.stderr[-2000:]
    assert driver.stdout.split() == ["2", "False"]  # both workers used, the head never

    stopped = _run(env, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    assert ray_processes(cluster_dir) == []
    assert not Path(cluster_dir).exists()
    assert _run(env, "status").returncode == 3
    assert "nothing to stop" in _run(env, "stop").stdout


def test_bad_arguments_are_refused_with_usage(script_env):
    env, _, _ = script_env
    assert _run(env).returncode == 2
    bad = _run(env, "start", "two")
    assert bad.returncode == 1 and "number of worker nodes" in bad.stderr
