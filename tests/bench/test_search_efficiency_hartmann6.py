"""The Hartmann-6 check of the search machinery (bench.search_efficiency_hartmann6): the function is
BoTorch's multi-fidelity Hartmann-6 with its published optimum, and a replayed search goes through the
product's searcher and ASHA (trials stopped at a rung are PRUNED in the experiment's Optuna journal)."""

from __future__ import annotations

import math

import pytest
from optuna.trial import TrialState

from tests.bench.scripts import load_bench_script

MINIMISER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)  # Hartmann-6's, published


@pytest.fixture(scope="module")
def hartmann():
    return load_bench_script("search_efficiency_hartmann6")


def _params_at(hartmann, coordinates) -> dict:
    """The searched values whose Hartmann coordinates are `coordinates` (each key in its own scale)."""
    params = {}
    for (key, spec), u in zip(hartmann.HARTMANN_SPACE.items(), coordinates, strict=True):
        if spec["type"] == "loguniform":
            params[key] = math.exp(math.log(spec["low"]) + u * (math.log(spec["high"]) - math.log(spec["low"])))
        else:
            params[key] = spec["low"] + u * (spec["high"] - spec["low"])
    return params


def test_the_full_fidelity_reaches_the_published_optimum_at_the_minimiser(hartmann):
    params = _params_at(hartmann, MINIMISER)
    assert hartmann.coordinates(params, hartmann.HARTMANN_SPACE) == pytest.approx(MINIMISER)
    curve = hartmann.hartmann_curve(hartmann.hartmann6(), hartmann.HARTMANN_SPACE, 4)(params)
    assert curve[-1] == pytest.approx(3.32237, abs=1e-5)  # epoch 4 of 4: fidelity 1, -H at its minimum
    assert curve == sorted(curve) and curve[0] < curve[-1] - 0.02  # lower fidelities read lower here
    elsewhere = hartmann.hartmann_curve(hartmann.hartmann6(), hartmann.HARTMANN_SPACE, 4)(
        _params_at(hartmann, [0.5] * 6)
    )
    assert elsewhere[-1] < 3.32237 - 0.5


def test_a_replayed_search_runs_the_products_searcher_and_asha(hartmann, tmp_path):
    from search.experiment import load_study

    base = hartmann.base_config(str(tmp_path / "runs"), 4)
    budget = 40
    record = hartmann.run("tpe+asha/c4", 0, base, hartmann.hartmann6(), budget, "test")
    assert record["trial_epochs"] == budget == sum(record["epochs_per_trial"])
    grace = base.scheduler.grace_period
    assert set(record["epochs_per_trial"]) <= set(range(1, 5)) and grace in record["epochs_per_trial"]
    best = record["best_so_far"]
    assert best == sorted(best) and best[-1] < 3.32237

    (uri,) = [str(p) for p in (tmp_path / "runs").iterdir()]
    trials = load_study(uri).get_trials()
    assert len(trials) == record["trials"]
    assert sorted(len(t.intermediate_values) for t in trials) == sorted(record["epochs_per_trial"])
    for trial in trials:
        steps = len(trial.intermediate_values)
        if trial.state == TrialState.COMPLETE:
            assert steps == 4
        else:  # stopped by ASHA at a rung, or by the budget's end
            assert trial.state == TrialState.PRUNED and steps < 4
    assert sum(t.state == TrialState.PRUNED for t in trials) >= 2
    # Four at a time: the first four trials were all asked for before any result came back.
    assert all(trials[i].datetime_start <= trials[0].datetime_complete for i in range(4))
