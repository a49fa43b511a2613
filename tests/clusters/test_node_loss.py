"""Ray Tune on a real multi-node Ray: trials spread over the workers and survive the loss of one.

This proves the mechanism the posetune search relies on (FailureConfig retries that restart a trial
from its last checkpoint on another node) with a tiny function trainable, so it runs in seconds. The
experiment runs in a process of its own (tests/clusters/node_loss_driver.py); this test judges it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.clusters.node_loss_driver import EPOCHS, KILL_AFTER_EPOCH


@pytest.mark.slow
def test_trials_spread_over_workers_and_survive_a_lost_node(ray_temp_dir, no_ray_auth, tmp_path):
    driver = [sys.executable, "-m", "tests.clusters.node_loss_driver", ray_temp_dir, str(tmp_path)]
    run = subprocess.run(driver, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    workers = set(summary["workers"])
    killed = summary["killed"]

    assert killed is not None, "the node was never removed"
    assert summary["num_errors"] == 0 and len(summary["trials"]) == 2  # no trial lost
    starts = [json.loads(line) for line in (tmp_path / "starts.jsonl").read_text().splitlines()]
    first_nodes = {s["node"] for s in starts if s["start"] == 0}
    assert first_nodes == workers  # the two trials started on the two workers, none on the head

    for trial in summary["trials"]:
        assert trial["epochs"] == list(range(1, EPOCHS + 1)), trial  # every epoch reported once, none redone
        assert trial["metrics"]["epoch"] == EPOCHS

    hit = [s for s in starts if s["trial"] == killed["trial"]]
    assert len(hit) == 2, hit  # started once, retried once
    retry = hit[1]
    assert retry["start"] >= KILL_AFTER_EPOCH  # resumed from a checkpoint at or after the kill, not epoch 0
    assert retry["node"] != killed["node"] and retry["node"] in workers  # on the surviving worker
    (victim,) = [
        t
        for t in summary["trials"]
        if t["metrics"]["resumed_from"] == retry["start"] and t["metrics"]["node"] == retry["node"]
    ]
    assert victim["metrics"]["epoch"] == EPOCHS
