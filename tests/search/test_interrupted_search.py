"""One search, interrupted both ways a cluster interrupts a driver, loses nothing.

Its first driver is SIGKILLed mid-run (a lost node, an OOM kill); `posetune search resume` continues it and
is then sent SIGTERM (what a cluster sends a driver it stops), which stops it gracefully with exit code 3
and the resume command; a last resume finishes it. Finished trials stay as they were, Optuna gets no
duplicate trials, ASHA's rungs keep every record. (On object storage, with a new machine's empty cache:
test_object_storage_resume.)"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pyarrow.fs
import pytest
import yaml

from search.experiment import load_study
from tests.search.tiny import (
    TINY,
    asha_records,
    cli,
    kill_process_group,
    tiny_config,
    trial_states,
    wait_for_two_finished,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NUM_SAMPLES = 5


def _trial_states(experiment: Path) -> dict[str, tuple[str, dict]]:
    return trial_states(pyarrow.fs.LocalFileSystem(), str(experiment))


def _wait_for_progress(experiment: Path, before: dict, driver, timeout: float = 300) -> None:
    """Until the resumed driver has trained further than the killed one got: a new epoch reported."""
    seen = {tid: result.get("training_iteration", 0) for tid, (_, result) in before.items()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _trial_states(experiment)
        if any(result.get("training_iteration", 0) > seen.get(tid, 0) for tid, (_, result) in now.items()):
            return
        assert driver.poll() is None, driver.stdout.read()
        time.sleep(0.5)
    raise AssertionError("the resumed search never reported an epoch")


def test_a_killed_then_terminated_search_resumes_with_everything_intact(tmp_path, shard_root):
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 3},
        search={**TINY["search"], "num_samples": NUM_SAMPLES, "max_concurrent": 1},
        tracking={"wandb": "none"},
    )
    config_file = tmp_path / "killme.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    experiment = tmp_path / "runs" / "killme"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNE_GLOBAL_CHECKPOINT_S": "0"}

    driver = cli("search", "launch", "--config", str(config_file), "--name", "killme", env=env)
    try:
        before = wait_for_two_finished(lambda: _trial_states(experiment), driver, timeout=300)
        records_before = asha_records(pyarrow.fs.LocalFileSystem(), str(experiment))
    finally:
        kill_process_group(driver)
    assert driver.returncode == -9

    resumed = cli("search", "resume", str(experiment), env=env)
    try:
        _wait_for_progress(experiment, before, resumed)
        resumed.send_signal(signal.SIGTERM)
        output, _ = resumed.communicate(timeout=180)
    finally:
        kill_process_group(resumed)  # the graceful stop leaves no Ray behind; this only guards a failure
    assert resumed.returncode == 3, output
    assert f"posetune search resume {experiment}" in output

    last = cli("search", "resume", str(experiment), env=env)
    output, _ = last.communicate(timeout=600)
    assert last.returncode == 0, output

    after = _trial_states(experiment)
    assert len(after) == NUM_SAMPLES, output[-3000:]
    assert all(status == "TERMINATED" for status, _ in after.values()), after
    for trial_id, (status, result) in before.items():
        if status == "TERMINATED":  # finished before the kill: kept as it was, not re-run
            assert after[trial_id][1]["training_iteration"] == result["training_iteration"]
            assert after[trial_id][1]["target_val_pdj20"] == result["target_val_pdj20"]
            assert after[trial_id][1]["trial_id"] == trial_id

    study = load_study(str(experiment))
    assert len(study.trials) == NUM_SAMPLES  # no duplicates from either restore

    records_after = asha_records(pyarrow.fs.LocalFileSystem(), str(experiment))
    assert records_before, "ASHA had recorded nothing before the kill"
    for key, value in records_before.items():
        assert records_after.get(key) == value, f"ASHA lost {key} on restore"
