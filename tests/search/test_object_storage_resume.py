"""A search on object storage survives the loss of its driver (a KubeRay RayJob retry, a lost laptop).

Against a real S3-compatible server (moto) through pyarrow's own S3 filesystem: the shards are enhanced into
`s3://`, a search is launched there, its driver is SIGKILLed mid-search, and a new driver with an empty cache
and a fresh home directory resumes it. Finished trials stay as they were, Optuna gets no duplicate trials,
ASHA's rungs keep every record, and the parameter importances are visible from yet another machine.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import optuna
import pytest
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
NUM_SAMPLES = 4
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
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSETUNE_", "RAY_"))}
    return {
        **env,
        **s3.env(),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "TUNE_GLOBAL_CHECKPOINT_S": "0",
    }


def test_sigkilled_search_on_s3_resumes_from_a_new_driver(tmp_path, shard_root, s3_server, monkeypatch):  # noqa: F811
    import ray

    fs = s3_server.filesystem
    bucket = s3_server.bucket()
    demo = demo_data_dir(tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root}))
    shards = s3_server.uri(f"{bucket}/shards/centred")
    try:
        assert main([
            "data", "enhance", "--source", f"surreal:{demo}/surreal", "--target", f"lsp:{demo}/lsp",
            "--out", shards, "--size", "64", "--frames-per-clip", "4", "--brightness", "mean",
        ]) == 0  # fmt: skip
    finally:
        ray.shutdown()
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
    storage = s3_server.uri(f"{bucket}/runs")
    experiment = f"{bucket}/runs/s3kill"
    uri = s3_server.uri(experiment)

    first_home = tmp_path / "home1"
    driver = cli(
        "search", "launch", "--config", str(config_file), "--name", "s3kill", "--storage", storage,
        env=_driver_env(s3_server, first_home), cwd=tmp_path,
    )  # fmt: skip
    try:
        before = wait_for_two_finished(lambda: trial_states(fs, experiment), driver)
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
    resumed = cli("search", "resume", uri, env=_driver_env(s3_server, tmp_path / "home2"), cwd=tmp_path)
    output, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, output[-4000:]

    after = trial_states(fs, experiment)
    assert len(after) == NUM_SAMPLES, output[-3000:]
    assert all(status == "TERMINATED" for status, _ in after.values()), after
    for trial_id, (status, result) in before.items():
        if status == "TERMINATED":
            assert after[trial_id][1]["training_iteration"] == result["training_iteration"]
            assert after[trial_id][1]["target_val_pdj20"] == result["target_val_pdj20"]

    trials = _trials(_read(fs, f"{experiment}/{JOURNAL}"))
    assert len(trials) == NUM_SAMPLES  # no duplicates from the restore
    # Told as they ended, through the kill and the new driver: COMPLETE at the full budget, else PRUNED.
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
    monkeypatch.setenv("HOME", str(tmp_path / "home3"))
    monkeypatch.setenv("POSETUNE_CACHE", str(tmp_path / "cache3"))
    inspected = cli("search", "inspect", uri, "--json", "--no-plots",
                     env=_driver_env(s3_server, tmp_path / "home3"), cwd=tmp_path)  # fmt: skip
    output, _ = inspected.communicate(timeout=300)
    assert inspected.returncode == 0, output
    report = json.loads(output[output.index("{") :])
    assert len(report["trials"]) == NUM_SAMPLES
    assert set(report["importances"]) == set(config.search.space)
