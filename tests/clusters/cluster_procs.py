"""Find the processes of one Ray cluster on this machine, told apart from every other Ray by its temp dir."""

from __future__ import annotations

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
