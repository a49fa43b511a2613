"""The posetune search itself on a multi-node Ray started by clusters/local-cluster.sh.

Drives the CLI (`search launch --config CONFIG --name N --storage PATH --address A [--set key=value ...]`,
`search resume PATH`); the mechanism underneath (trial retry from checkpoint on another node) is tested
in test_node_loss.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.clusters.cluster_procs import ray_processes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "clusters" / "local-cluster.sh"
VENV_BIN = str(Path(sys.executable).parent)
DEMO_CONFIG = ROOT / "search" / "configs" / "demo.yaml"

# A small budget on the demo config (keys as in the search branch's search/config.py): two concurrent
# trials, each holding one worker's logical GPU, so two trials can only run at once on two workers.
SMALL_BUDGET = [
    "search.max_concurrent=2",
    "train.epochs=2",
    "train.max_eval_samples=32",
    "resources.cpu=1",
    "resources.gpu=1",
    "tracking.wandb=none",
    "warm_start.pretrain_epochs=0",  # the demo pretrains 30 x 50 steps first; these tests are about the cluster
    "train.steps_per_epoch=5",
    "data.demo_clips=24",  # the demo's 200 clips and 320 target images are data volume, not what is tested
    "data.demo_target_images=96",
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """The demo shards, written by the launch into a folder of the module's own."""
    return tmp_path_factory.mktemp("shards")


@pytest.fixture(scope="module")
def local_cluster():
    """clusters/local-cluster.sh start 2 on a private port and temp dir (a killed driver leaves the cluster
    usable for the resume); always stopped afterwards."""
    port = _free_port()
    cluster_dir = f"/tmp/ptlc-{port}"
    env = dict(os.environ)
    env.update(
        PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
        POSETUNE_CLUSTER_PORT=str(port),
        POSETUNE_CLUSTER_DIR=cluster_dir,
        RAY_AUTH_MODE="disabled",
        WANDB_MODE="offline",
        RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS="0",
    )
    env.pop("RAY_ADDRESS", None)
    started = subprocess.run(["bash", str(SCRIPT), "start", "2"], env=env, capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield env, f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        assert ray_processes(cluster_dir) == []


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


class GpuUsageSampler(threading.Thread):
    """Samples `ray status` while a search runs; the most GPUs seen in use at once."""

    def __init__(self, env: dict, address: str):
        super().__init__(daemon=True)
        self.env, self.address, self.most, self.stop = env, address, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            out = subprocess.run(
                ["ray", "status", f"--address={self.address}"], env=self.env, capture_output=True, text=True
            ).stdout
            match = re.search(r"([\d.]+)/([\d.]+) GPU", out)
            if match:
                self.most = max(self.most, float(match.group(1)))
            self.stop.wait(1.0)


def _trial_states(experiment: Path) -> dict[str, str]:
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(experiment))
    return {trial.trial_id: trial.status for trial in analysis.trials}


def test_a_search_runs_on_both_workers_and_a_new_driver_finishes_it_after_a_kill(local_cluster, tmp_path, shards):
    """`search launch --address`: trials on both workers at once (one logical GPU each, one per trial); the
    driver SIGKILLed once a trial finished; `search resume` on the cluster finishes every trial, keeping the
    finished ones."""
    env, address = local_cluster
    experiment = tmp_path / "exp" / "killed"
    sampler = GpuUsageSampler(env, address)
    sampler.start()
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
        sampler.stop.set()
        sampler.join()
    # Each worker has one logical GPU and each trial takes one: two at once means both workers ran trials.
    assert sampler.most == 2.0

    resumed = subprocess.run(
        _cli("resume", str(experiment)),
        cwd=ROOT,
        env=dict(env, RAY_ADDRESS=address),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    states = _trial_states(experiment)
    assert len(states) == 4 and set(states.values()) == {"TERMINATED"}
    assert done_before <= set(states)  # every trial finished before the kill is still there
