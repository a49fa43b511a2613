"""Start a loopback multi-node Ray cluster, and find its processes on this machine (told apart from every
other Ray by its temp dir)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, command line) for every process, read from /proc (Linux)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name in field 2 may hold spaces and parentheses: split after the last ')'.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        table[int(entry.name)] = (int(ppid), state, cmdline)
    return table


def ray_processes(temp_dir: str) -> list[int]:
    """Living pids of the Ray cluster rooted at `temp_dir`: its daemons and all their children."""
    table = _proc_table()
    alive = {pid: row for pid, row in table.items() if row[1] not in ("Z", "X")}
    found = {pid for pid, (_, _, cmd) in alive.items() if temp_dir in cmd}
    grew = True
    while grew:  # workers and agents rename themselves (ray::IDLE): find them as children
        children = {pid for pid, (ppid, _, _) in alive.items() if ppid in found} - found
        found |= children
        grew = bool(children)
    return sorted(found)


def wait_gone(temp_dir: str, timeout: float = 20.0) -> list[int]:
    """Wait until no process of the cluster at `temp_dir` is alive; returns the pids still alive."""
    deadline = time.monotonic() + timeout
    left = ray_processes(temp_dir)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = ray_processes(temp_dir)
    return left


def start_multinode_cluster(temp_dir: str):
    """Head with no CPUs for trials and two workers with one CPU and one logical GPU each, all under `temp_dir`.

    Node death is detected within about 5 s (Ray's default is about 30 s) so node-loss tests stay short; at
    2 s a live node on a busy 2-core machine was once declared dead mid-trial.
    """
    from ray.cluster_utils import Cluster

    # Cluster writes its address file into Ray's *default* temp dir ($RAY_TMPDIR/ray, else $TMPDIR/ray, else
    # /tmp/ray) whatever temp dir its nodes get; on a machine that never ran Ray that folder does not exist and
    # the head fails with FileNotFoundError. Point the default at this cluster's own folder and make it.
    os.environ["RAY_TMPDIR"] = temp_dir
    os.makedirs(os.path.join(temp_dir, "ray"), exist_ok=True)
    system_config = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 10,
    }
    head = {"num_cpus": 0, "num_gpus": 0, "temp_dir": temp_dir, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args={**head, "_system_config": system_config})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, num_gpus=1, resources={"enhance_cpu": 1}, temp_dir=temp_dir)
        cluster.wait_for_nodes()
    except BaseException:
        cluster.shutdown()
        raise
    return cluster
