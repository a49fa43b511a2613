"""`search inspect` compares trials at equal budget: a real Tune experiment (the product's Tuner, real Optuna,
real ASHA) whose trials report a known curve, where training longer raises the metric far more than the
searched values do, and one searched key decides how long a trial trains."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import optuna
import pytest
from ray import cloudpickle, tune

from search.cluster import init_ray
from search.experiment import experiment_uri, write_experiment_manifest
from search.results.trials import compared_epochs, format_table, inspect
from search.space import optuna_space
from search.tuner import build_tuner
from tests.search.tiny import tiny_config

EPOCHS = 4
SPACE = {
    "train.adv_weight": {"type": "uniform", "low": 0.0, "high": 1.0},  # the only key that matters per epoch
    "augment.occlusion_prob": {"type": "uniform", "low": 0.0, "high": 0.8},  # decides the epochs trained
}


def curve_trial(params, experiment):
    """Epoch e reports 0.1 e + 0.05 adv_weight; trials with occlusion below 0.4 stop after 2 epochs on their
    own (as ASHA would stop them), so their best values are low for a reason that is not their values."""
    epochs = EPOCHS if params["augment.occlusion_prob"] >= 0.4 else 2
    for epoch in range(1, epochs + 1):
        tune.report({"target_val_pdj20": 0.1 * epoch + 0.05 * params["train.adv_weight"], "epoch": epoch})


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("equal-budget")
    config = tiny_config(
        tmp,
        train={"epochs": EPOCHS},
        search={"num_samples": 10, "max_concurrent": 1, "algorithm": "random", "space": SPACE},
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
        tracking={"wandb": "none"},
    )
    uri = experiment_uri(config.storage.path, "equal-budget")
    write_experiment_manifest(uri, "equal-budget", config)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray's workers cannot import tests/
    init_ray(None, {})
    try:
        build_tuner(config, uri, trainable=curve_trial).fit()
    finally:
        import ray

        ray.shutdown()
    return config, uri


def test_compared_epochs_are_ashas_rungs_and_the_last_epoch(experiment):
    config, _ = experiment
    assert compared_epochs(config) == [1, 2, 4]
    assert compared_epochs(config.with_params({"scheduler.type": "none"})) == [EPOCHS]
    assert compared_epochs(config.with_params({"train.epochs": 12, "scheduler.grace_period": 2})) == [
        2,
        4,
        8,
        12,
    ]


@pytest.mark.slow
def test_inspect_compares_at_equal_budget_and_shows_epochs_trained(experiment):
    config, uri = experiment
    result = inspect(uri)
    trained = {}
    for trial_dir in Path(uri).iterdir():
        if (trial_dir / "result.json").exists():
            lines = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
            trained[lines[0]["trial_id"]] = lines
    assert len(result.rows) == len(trained) == 10
    for row in result.rows:
        lines = trained[row.trial_id]
        assert row.epochs == len(lines)  # epochs trained, stopped early or not
        assert row.at_rungs == {
            r["training_iteration"]: r["target_val_pdj20"]
            for r in lines
            if r["training_iteration"] in (1, 2, 4)
        }
    assert any(row.epochs < EPOCHS for row in result.rows) and any(
        row.epochs == EPOCHS for row in result.rows
    )
    # Importances: Optuna's, over the trials that reached the chosen rung, each with its value there (a
    # trial's best would mix budgets: here occlusion decides who trained 4 epochs, adv_weight the rest).
    epoch = result.importance_epoch
    assert epoch == max(e for e in (1, 2, 4) if sum(e in r.at_rungs for r in result.rows) >= 4)
    study = optuna.create_study(direction="maximize")
    for lines in trained.values():
        at = {r["training_iteration"]: r["target_val_pdj20"] for r in lines}
        if epoch in at:
            params = {key: lines[0]["config"][key] for key in SPACE}
            study.add_trial(
                optuna.trial.create_trial(params=params, distributions=optuna_space(config), value=at[epoch])
            )
    assert result.importances == pytest.approx(optuna.importance.get_param_importances(study))
    table = format_table(result)
    assert f"@ep{epoch}" in table and f"importances at epoch {epoch}" in table
    assert (Path(uri) / "metric_vs_params.png").read_bytes()[:4] == b"\x89PNG"
