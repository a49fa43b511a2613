"""A search stopped by SIGTERM (what a cluster sends a driver) stops gracefully, exits non-zero and says
how to resume; the resume then finishes it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from tests.search.test_resume_after_kill import _cli, _trial_states
from tests.search.tiny import TINY, kill_process_group, tiny_config

pytestmark = pytest.mark.slow


def test_sigterm_stops_gracefully_with_exit_3_and_the_resume_command(tmp_path, shard_root):
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 3},
        search={**TINY["search"], "num_samples": 4, "max_concurrent": 1},
        tracking={"wandb": "none"},
    )
    config_file = tmp_path / "term.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    experiment = tmp_path / "runs" / "term"
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TUNE_GLOBAL_CHECKPOINT_S": "0",
    }

    driver = _cli("search", "launch", "--config", str(config_file), "--name", "term", env=env)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not any(
            result.get("training_iteration") for _, result in _trial_states(experiment).values()
        ):
            assert driver.poll() is None, driver.stdout.read()
            time.sleep(0.5)
        driver.send_signal(signal.SIGTERM)
        output, _ = driver.communicate(timeout=180)
    finally:
        kill_process_group(driver)  # the graceful stop leaves no Ray behind; this only guards a failure
    assert driver.returncode == 3, output
    assert f"posetune search resume {experiment}" in output

    resumed = _cli("search", "resume", str(experiment), env=env)
    output, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, output[-3000:]
    assert len(_trial_states(experiment)) == 4
    assert all(status == "TERMINATED" for status, _ in _trial_states(experiment).values())
