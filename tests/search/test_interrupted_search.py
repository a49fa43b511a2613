"""One search on object storage, interrupted both ways a cluster interrupts a driver, loses nothing.

Against a real S3-compatible server (moto) through pyarrow's own S3 filesystem: the shards are enhanced into
`s3://` and a search is launched there. Its first driver is SIGKILLed mid-run (a lost node, an OOM kill, a
KubeRay RayJob retry); a new driver with an empty cache and a fresh home directory resumes it and is then
sent SIGTERM (what a cluster sends a driver it stops), which stops it gracefully with exit code 3 and the
resume command; a last driver, on yet another home, finishes it. Finished trials stay as they were, Optuna
gets no duplicate trials and is told how each trial ended, ASHA's rungs keep every record, and the
parameter importances are visible from another machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import ray
import yaml

from data_pipeline.manifest import SHARDS_MANIFEST
from search.cli import main
from search.shards import demo_data_dir
from search.tuner import full_budget
from tests.s3_server import s3_server  # noqa: F401  (fixture)
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
NUM_SAMPLES = 4  # two finished before the kill, one the resumed driver trains further, one more
JOURNAL = "optuna-journal.log"


def _read(fs, path: str) -> bytes | None:
    try:
        with fs.open_input_stream(path) as stream:
            return stream.readall()
    except (FileNotFoundError, OSError):
        return None


def _trials(journal: bytes) -> list[optuna.trial.FrozenTrial]:
    """The Optuna trials recorded in a journal's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / JOURNAL
        path.write_bytes(journal)
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
        return optuna.load_study(study_name=None, storage=storage).get_trials(deepcopy=True)  # its only study


def _driver_env(s3, home: Path) -> dict:
    """A driver on a machine of its own: an empty home (and so an empty cache), the bucket's credentials."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSETUNE_", "RAY_"))}
    return {**env, **s3.env(), "HOME": str(home), "PYTHONPATH": str(ROOT), "TUNE_GLOBAL_CHECKPOINT_S": "0"}


def _wait_for_progress(read_states, before: dict, driver, timeout: float = 300) -> None:
    """Until the resumed driver has trained further than the killed one got: a new epoch reported."""
    seen = {tid: result.get("training_iteration", 0) for tid, (_, result) in before.items()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = read_states()
        if any(result.get("training_iteration", 0) > seen.get(tid, 0) for tid, (_, result) in now.items()):
            return
        assert driver.poll() is None, driver.stdout.read()
        time.sleep(0.5)
    raise AssertionError("the resumed search never reported an epoch")


def _enhance_into_s3(s3, demo: Path, shards: str) -> None:
    try:
        assert main([
            "data", "enhance", "--source", f"surreal:{demo}/surreal", "--target", f"lsp:{demo}/lsp",
            "--out", shards, "--size", "64", "--frames-per-clip", "4", "--brightness", "mean",
        ]) == 0  # fmt: skip
    finally:
        ray.shutdown()


def test_a_killed_then_terminated_search_on_s3_resumes_from_new_drivers(tmp_path, shard_root, s3_server):  # noqa: F811
    fs = s3_server.filesystem
    bucket = s3_server.bucket()
    demo = demo_data_dir(tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root}))
    shards = s3_server.uri(f"{bucket}/shards/centred")
    _enhance_into_s3(s3_server, demo, shards)
    assert f"{bucket}/shards/centred/{SHARDS_MANIFEST}" in s3_server.files(f"{bucket}/shards")

    config = tiny_config(
        tmp_path,
        data={"demo": False, "shards": shards, "size": 64, "frames_per_clip": 4},
        train={**TINY["train"], "epochs": 2},
        search={**TINY["search"], "num_samples": NUM_SAMPLES, "max_concurrent": 1},
        tracking={"wandb": "none"},
    )
    config_file = tmp_path / "s3.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    experiment = f"{bucket}/runs/s3kill"
    uri = s3_server.uri(experiment)

    def states():
        return trial_states(fs, experiment)

    first_home = tmp_path / "home1"
    driver = cli(
        "search", "launch", "--config", str(config_file), "--name", "s3kill", "--storage",
        s3_server.uri(f"{bucket}/runs"), env=_driver_env(s3_server, first_home), cwd=tmp_path,
    )  # fmt: skip
    try:
        before = wait_for_two_finished(states, driver)
        records_before = asha_records(fs, experiment)
        # The journal reaches storage while the search runs, not only when it ends.
        journal = _read(fs, f"{experiment}/{JOURNAL}")
        assert journal is not None, "no Optuna journal on storage during the search"
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)  # ASHA may stop one
        assert sum(t.state in finished for t in _trials(journal)) >= 2
    finally:
        kill_process_group(driver)
    assert driver.returncode == -9
    shutil.rmtree(first_home)  # the first driver's cache and home are gone with its machine

    second_home = tmp_path / "home2"
    resumed = cli("search", "resume", uri, env=_driver_env(s3_server, second_home), cwd=tmp_path)
    try:
        _wait_for_progress(states, before, resumed)
        resumed.send_signal(signal.SIGTERM)
        output, _ = resumed.communicate(timeout=180)
    finally:
        kill_process_group(resumed)  # the graceful stop leaves no Ray behind; this only guards a failure
    assert resumed.returncode == 3, output[-3000:]
    assert f"posetune search resume {uri}" in output
    shutil.rmtree(second_home)

    last = cli("search", "resume", uri, env=_driver_env(s3_server, tmp_path / "home3"), cwd=tmp_path)
    output, _ = last.communicate(timeout=900)
    assert last.returncode == 0, output[-4000:]

    after = states()
    assert len(after) == NUM_SAMPLES, output[-3000:]
    assert all(status == "TERMINATED" for status, _ in after.values()), after
    for trial_id, (status, result) in before.items():
        if status == "TERMINATED":  # finished before the kill: kept as it was, not re-run
            assert after[trial_id][1]["training_iteration"] == result["training_iteration"]
            assert after[trial_id][1]["target_val_pdj20"] == result["target_val_pdj20"]
            assert after[trial_id][1]["trial_id"] == trial_id

    trials = _trials(_read(fs, f"{experiment}/{JOURNAL}"))
    assert len(trials) == NUM_SAMPLES  # no duplicates from either restore
    # Told as they ended, through the kill, the stop and the new drivers: COMPLETE at the full budget, else PRUNED.
    budget = full_budget(config)
    assert sorted(max(t.intermediate_values) for t in trials) == sorted(
        r["training_iteration"] for _, r in after.values()
    )
    for trial in trials:
        reached = max(trial.intermediate_values)
        assert sorted(trial.intermediate_values) == list(range(1, reached + 1))
        expected = optuna.trial.TrialState.COMPLETE if reached == budget else optuna.trial.TrialState.PRUNED
        assert trial.state == expected, (trial.number, trial.state, trial.intermediate_values)

    records_after = asha_records(fs, experiment)
    assert records_before, "ASHA had recorded nothing before the kill"
    for key, value in records_before.items():
        assert records_after.get(key) == value, f"ASHA lost {key} on restore"

    # Another machine: a home and cache that never saw this search still gets the importances.
    inspected = cli("search", "inspect", uri, "--json", "--no-plots",
                    env=_driver_env(s3_server, tmp_path / "home4"), cwd=tmp_path)  # fmt: skip
    output, _ = inspected.communicate(timeout=300)
    assert inspected.returncode == 0, output
    report = json.loads(output[output.index("{") :])
    assert len(report["trials"]) == NUM_SAMPLES
    assert set(report["importances"]) == set(config.search.space)
