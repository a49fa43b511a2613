"""`posetune search resume <uri> --more N` extends a finished search: N new trials proposed by the same
Optuna study (no duplicates, the first trials untouched) and judged by the same ASHA rungs."""

from __future__ import annotations

from pathlib import Path

import optuna
import pyarrow.fs
import pytest
import yaml

from search.cli import main
from search.experiment import EXPERIMENT_MANIFEST, load_study
from tests.search.tiny import TINY, asha_records, tiny_config, trial_states

pytestmark = pytest.mark.slow


def _optuna_trials(experiment: Path) -> list:
    return load_study(str(experiment)).get_trials()


def test_more_adds_trials_to_a_finished_search(tmp_path, shard_root, ray_session, capsys):
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 2},
        search={**TINY["search"], "num_samples": 2},
        tracking={"wandb": "none"},
    )
    config_file = tmp_path / "c.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    experiment = tmp_path / "runs" / "more"
    assert main(["search", "launch", "--config", str(config_file), "--name", "more"]) == 0
    before = trial_states(pyarrow.fs.LocalFileSystem(), str(experiment))
    params_before = [t.params for t in _optuna_trials(experiment)]
    records_before = asha_records(pyarrow.fs.LocalFileSystem(), str(experiment))
    assert len(before) == 2 and records_before

    assert main(["search", "resume", str(experiment)]) == 2  # finished: nothing to resume without --more
    assert "--more" in capsys.readouterr().err

    assert main(["search", "resume", str(experiment), "--more", "2"]) == 0
    after = trial_states(pyarrow.fs.LocalFileSystem(), str(experiment))
    assert len(after) == 4 and all(status == "TERMINATED" for status, _ in after.values())
    for trial_id, (_, result) in before.items():
        assert after[trial_id][1]["training_iteration"] == result["training_iteration"]
    trials = _optuna_trials(experiment)
    assert len(trials) == 4 and [t.params for t in trials[:2]] == params_before
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 4
    # The restored searcher still tells the truth: every epoch reported, COMPLETE only at the full budget.
    for trial in trials:
        last = max(trial.intermediate_values)
        assert sorted(trial.intermediate_values) == list(range(1, last + 1))
        assert trial.state == (optuna.trial.TrialState.COMPLETE if last == 2 else optuna.trial.TrialState.PRUNED)
    records_after = asha_records(pyarrow.fs.LocalFileSystem(), str(experiment))
    for key, value in records_before.items():
        assert records_after.get(key) == value
    new = set(after) - set(before)
    assert {tid for (_, tid) in records_after} >= new  # the new trials were judged at the rungs too
    assert (
        yaml.safe_load((experiment / EXPERIMENT_MANIFEST).read_text())["config"]["search"]["num_samples"] == 4
    )
