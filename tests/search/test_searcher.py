"""What Optuna is told about each trial (search.searcher.TruthfulOptunaSearch): every result as an
intermediate value at its step, trials ASHA stopped as PRUNED, errors as FAIL, full-budget trials as
COMPLETE, in a study named after the experiment; through a pickle round trip as Tune's restore does it."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.experiment import load_study, study_name, write_experiment_manifest
from search.searcher import TruthfulOptunaSearch
from search.tuner import build_searcher, build_tuner
from tests.search.tiny import tiny_config

METRIC = "target_val_pdj20"
EPOCHS = 4  # ASHA rungs 1, 2, 4 with grace 1 and reduction factor 2


def _config(tmp_path: Path, **search):
    return tiny_config(
        tmp_path,
        train={"epochs": EPOCHS},
        search={"num_samples": 6, "max_concurrent": 1, "evaluate_defaults_first": False, **search},
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
        tracking={"wandb": "none"},
    )


def _searcher_of(tmp_path: Path, name: str = "truthful") -> tuple[TruthfulOptunaSearch, str]:
    config = _config(tmp_path)
    uri = str(tmp_path / "runs" / name)
    write_experiment_manifest(uri, name, config)
    return build_searcher(config, uri), uri


def _result(step: int, value: float) -> dict:
    return {METRIC: value, "training_iteration": step}


def test_stopped_trials_are_pruned_finished_complete_errored_failed(tmp_path):
    searcher, uri = _searcher_of(tmp_path)
    for trial_id in ("full", "stopped", "errored", "never"):
        searcher.suggest(trial_id)
    for step in range(1, EPOCHS):  # Tune tells on_trial_result the results the trial goes on after
        searcher.on_trial_result("full", _result(step, 0.1 * step))
    searcher.on_trial_complete("full", result=_result(EPOCHS, 0.5))  # the last one goes here
    searcher.on_trial_result("stopped", _result(1, 0.05))
    searcher.on_trial_complete("stopped", result=_result(2, 0.07))  # ASHA stopped it at rung 2
    searcher.on_trial_result("errored", _result(1, 0.2))
    searcher.on_trial_complete("errored", error=True)
    searcher.on_trial_complete("never")  # removed before its first result

    study = load_study(uri)
    assert study.study_name == study_name(uri) == "truthful"
    full, stopped, errored, never = study.get_trials()
    assert (full.state, full.value) == (TrialState.COMPLETE, 0.5)
    assert full.intermediate_values == {1: 0.1, 2: 0.2, 3: pytest.approx(0.3), 4: 0.5}
    assert (stopped.state, stopped.value) == (TrialState.PRUNED, 0.07)  # the stopping result, at its step
    assert stopped.intermediate_values == {1: 0.05, 2: 0.07}
    assert errored.state == TrialState.FAIL and errored.intermediate_values == {1: 0.2}
    assert never.state == TrialState.FAIL and never.intermediate_values == {}


def test_the_searcher_keeps_telling_the_truth_after_a_pickle_round_trip(tmp_path):
    """Tune restores a searcher by unpickling it from tuner.pkl and then its saved state (`save`/`restore`)."""
    searcher, uri = _searcher_of(tmp_path, "restored")
    constructed = pickle.dumps(searcher)  # what tuner.pkl holds
    searcher.suggest("a")
    searcher.on_trial_result("a", _result(1, 0.3))
    searcher.save(str(tmp_path / "searcher-state.pkl"))

    restored = pickle.loads(constructed)
    restored.restore(str(tmp_path / "searcher-state.pkl"))
    assert isinstance(restored, TruthfulOptunaSearch)
    restored.on_trial_result("a", _result(1, 0.3))  # a resumed trial may repeat a step: told once
    restored.on_trial_complete("a", result=_result(2, 0.25))
    (trial,) = load_study(uri).get_trials()
    assert trial.state == TrialState.PRUNED and trial.intermediate_values == {1: 0.3, 2: 0.25}


def test_a_trial_suggested_after_the_searchers_last_snapshot_is_adopted_on_restore(tmp_path):
    """The driver died after Tune's snapshot recorded trial b and before the searcher's did: the restored
    searcher never asked for b, but Optuna's journal holds b's trial, RUNNING. Tune runs b again; its results
    go to that trial (no KeyError ending the search, no duplicate trial)."""
    searcher, uri = _searcher_of(tmp_path, "lost-ask")
    constructed = pickle.dumps(searcher)
    searcher.suggest("a")
    searcher.save(str(tmp_path / "searcher-state.pkl"))  # the searcher's last snapshot
    config_b = searcher.suggest("b")  # asked (in the journal), then the driver died

    restored = pickle.loads(constructed)
    restored.restore(str(tmp_path / "searcher-state.pkl"))
    flat = {f"config/{key}": value for key, value in config_b.items()}  # Tune hands searchers flat results
    for step in range(1, EPOCHS):
        restored.on_trial_result("b", {**_result(step, 0.1 * step), **flat})
    restored.on_trial_complete("b", result={**_result(EPOCHS, 0.5), **flat})
    restored.on_trial_complete("a", result={**_result(1, 0.2)})  # a, known to the snapshot, as before

    trials = load_study(uri).get_trials()
    assert len(trials) == 2  # no duplicate of b
    b = next(t for t in trials if t.params == config_b)
    assert (b.state, b.value) == (TrialState.COMPLETE, 0.5)
    assert b.intermediate_values == {1: 0.1, 2: 0.2, 3: pytest.approx(0.3), 4: 0.5}
    # A result of a trial the study never saw is dropped with a warning, not an error.
    restored.on_trial_result("ghost", {**_result(1, 0.1), "config/train.lr_decay_rate": 0.123})
    restored.on_trial_complete("ghost", result=_result(1, 0.1))
    assert len(load_study(uri).get_trials()) == 2


def test_an_errored_trial_that_resume_continues_is_added_again_when_it_ends(tmp_path):
    """`search resume` continues errored trials (resume_errored); Optuna cannot reopen a FAIL."""
    searcher, uri = _searcher_of(tmp_path, "errored")
    searcher.suggest("a")
    searcher.on_trial_result("a", _result(1, 0.1))
    searcher.on_trial_complete("a", error=True)  # out of retries: the search ends with it errored
    searcher.save(str(tmp_path / "searcher-state.pkl"))
    restored = pickle.loads(pickle.dumps(searcher))
    restored.restore(str(tmp_path / "searcher-state.pkl"))
    for step in (2, 3):
        restored.on_trial_result("a", _result(step, 0.1 * step))
    restored.on_trial_complete("a", result=_result(EPOCHS, 0.4))
    failed, resumed = load_study(uri).get_trials()
    assert failed.state == TrialState.FAIL and failed.intermediate_values == {1: 0.1}
    assert (resumed.state, resumed.value, resumed.params) == (TrialState.COMPLETE, 0.4, failed.params)
    assert resumed.intermediate_values == {1: 0.1, 2: 0.2, 3: pytest.approx(0.3), 4: 0.4}
    assert resumed.user_attrs == {"resumed_from": failed.number}


def test_an_experiment_of_the_old_study_name_is_still_read(tmp_path):
    config = _config(tmp_path)
    uri = str(tmp_path / "runs" / "old")
    write_experiment_manifest(uri, "old", config)
    from search.experiment import LEGACY_STUDY_NAME, journal_storage

    optuna.create_study(study_name=LEGACY_STUDY_NAME, storage=journal_storage(uri)).ask()
    study = load_study(uri)
    assert study.study_name == LEGACY_STUDY_NAME and len(study.trials) == 1


# ------------------------------------------------------------------------------------ a real search


def curve_trial(params: dict, experiment: dict) -> None:
    """A trial whose curve is its adversarial weight x epoch: ASHA stops the low weights at its rungs."""
    from ray import tune

    for epoch in range(1, experiment["train"]["epochs"] + 1):
        tune.report({METRIC: params["train.adv_weight"] * epoch, "epoch": epoch})


@pytest.mark.slow
def test_a_real_search_tells_optuna_pruned_and_complete_at_the_right_steps(tmp_path, ray_session):
    from ray import cloudpickle

    from search.cluster import init_ray

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    config = _config(tmp_path)
    uri = str(tmp_path / "runs" / "real-search")
    write_experiment_manifest(uri, "real-search", config)
    init_ray(None, {})
    build_tuner(config, uri, trainable=curve_trial).fit()

    tune_steps = {}  # trial's adv_weight -> its reported (step, value)s, from Tune's own result files
    for result_file in Path(uri).glob("*/result.json"):
        rows = [json.loads(line) for line in result_file.read_text().splitlines()]
        tune_steps[rows[0]["config"]["train.adv_weight"]] = {r["training_iteration"]: r[METRIC] for r in rows}
    study = load_study(uri)
    assert study.study_name == "real-search"
    trials = study.get_trials()
    assert len(trials) == len(tune_steps) == config.search.num_samples
    states = []
    for trial in trials:
        reported = tune_steps[trial.params["train.adv_weight"]]
        assert trial.intermediate_values == pytest.approx(reported)  # every epoch, the last one included
        last = max(reported)
        expected = TrialState.COMPLETE if last == EPOCHS else TrialState.PRUNED
        assert trial.state == expected and trial.value == pytest.approx(reported[last])
        states.append(trial.state)
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states

