"""`clusters/local-cluster.sh`: a real multi-node Ray on this machine, a posetune search on it, and the
machine left as it was.

One cluster's whole life in one test (each start is three Ray nodes): `start 2` and the refusal of a
different second start, `status`, a plain driver whose tasks land on both workers and never the head, then
the search itself through the CLI (`search launch --config CONFIG --name N --storage PATH --address A
[--set key=value ...]`: trials on both workers at once; the driver SIGKILLed once a trial finished;
`search resume PATH` on the cluster finishes every trial, keeping the finished ones), and `stop`, after
which none of its processes is alive. The mechanism under the resume (a trial retried from its checkpoint
on another node) is tested in test_node_loss.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clusters.cluster_procs import ray_processes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "clusters" / "local-cluster.sh"
VENV_BIN = str(Path(sys.executable).parent)
DEMO_CONFIG = ROOT / "search" / "configs" / "demo.yaml"

# A small budget on the demo config: two concurrent trials, each holding one worker's logical GPU, so two
# trials can only run at once on two workers.
SMALL_BUDGET = [
    "search.max_concurrent=2",
    "train.epochs=2",
    "train.max_eval_samples=32",
    "resources.cpu=1",
    "resources.gpu=1",
    "tracking.wandb=none",
    "warm_start.pretrain_epochs=0",  # the demo pretrains 30 x 50 steps first; this is about the cluster
    "train.steps_per_epoch=5",
    "data.demo_clips=24",  # the demo's 200 clips and 320 target images are data volume, not what is tested
    "data.demo_target_images=96",
]


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
def test_start_status_search_and_stop_leave_nothing_behind(script_env, tmp_path):
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

    _search_on_both_workers_survives_a_driver_kill(driver_env, tmp_path)

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


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search.cli", "search", *args]


def _launch_args(name: str, storage: Path, address: str, shards: Path, trials: int) -> list[str]:
    budget = [*SMALL_BUDGET, f"search.num_samples={trials}", f"data.shards={shards}"]
    sets = [part for item in budget for part in ("--set", item)]
    return _cli(
        "launch",
        "--config",
        str(DEMO_CONFIG),
        "--name",
        name,
        "--storage",
        str(storage),
        "--address",
        address,
        *sets,
    )


# Connects once and polls the cluster's free GPUs twice a second until stdin closes; prints the most in use at once.
# (A `ray status` per sample is a Python process importing Ray: about a CPU-second each on a 2-core machine.)
GPU_WATCHER = """
import sys, threading
import ray
ray.init(log_to_driver=False)
closed = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
total, most = ray.cluster_resources().get("GPU", 0.0), 0.0
while not closed.wait(0.5):
    most = max(most, total - ray.available_resources().get("GPU", 0.0))
print(f"most_gpus_in_use={most}", flush=True)
"""


class GpuUsageSampler:
    """Watches the cluster while a search runs (a driver of its own on it); the most GPUs seen in use at once."""

    def __init__(self, env: dict, address: str):
        self.process = subprocess.Popen(
            [sys.executable, "-c", GPU_WATCHER],
            env={**env, "RAY_ADDRESS": address},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.most = 0.0

    def stop(self) -> None:
        out, _ = self.process.communicate(input="", timeout=60)
        found = re.findall(r"most_gpus_in_use=([\d.]+)", out)
        assert self.process.returncode == 0 and found, out[-2000:]
        self.most = float(found[-1])


def _trial_states(experiment: Path) -> dict[str, str]:
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(experiment))
    return {trial.trial_id: trial.status for trial in analysis.trials}


def _search_on_both_workers_survives_a_driver_kill(env: dict, tmp_path: Path) -> None:
    """`search launch --address`: trials on both workers at once (one logical GPU each, one per trial); the
    driver SIGKILLed once a trial finished; `search resume` on the cluster finishes every trial, keeping the
    finished ones."""
    address = env["RAY_ADDRESS"]
    env = dict(env, RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS="0")
    shards = tmp_path / "shards"  # the demo shards, written by the launch
    experiment = tmp_path / "exp" / "killed"
    sampler = GpuUsageSampler(env, address)
    driver = subprocess.Popen(
        _launch_args("killed", tmp_path / "exp", address, shards, trials=4),
        cwd=ROOT,
        env={**env, "TUNE_GLOBAL_CHECKPOINT_S": "0"},  # a snapshot every step: a fast trial's end is seen
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Wait for the first trial to finish (and the experiment snapshot to record it), then kill the driver.
        # Four trials on two workers: the second pair runs a whole trial after the first pair ends, a window
        # polled twice a second (three trials, polled every 2 s, let a fast search end before the kill).
        deadline = time.monotonic() + 600
        done_before: set[str] = set()
        while time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.5)
            if (experiment / "tuner.pkl").exists() and any(experiment.glob("experiment_state-*.json")):
                try:
                    states = _trial_states(experiment)
                except Exception:  # a snapshot being rewritten right now: look again
                    continue
                done_before = {t for t, s in states.items() if s == "TERMINATED"}
                if done_before and len(done_before) < len(states):
                    break
        assert driver.poll() is None, "the search ended before it could be interrupted"
        assert done_before, "no trial finished in time"
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)  # the driver's own process group: started by this test
        driver.wait()
        sampler.stop()
    # Each worker has one logical GPU and each trial takes one: two at once means both workers ran trials.
    assert sampler.most == 2.0

    resumed = subprocess.run(
        _cli("resume", str(experiment)),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    states = _trial_states(experiment)
    assert len(states) == 4 and set(states.values()) == {"TERMINATED"}
    assert done_before <= set(states)  # every trial finished before the kill is still there
