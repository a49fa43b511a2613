"""The tabular search-efficiency replay (bench.search_table + bench.search_efficiency) on a table small
enough to write by hand: the product's Tuner with real Optuna and real ASHA replays recorded curves, ASHA
stops trials at its rungs, and every reported epoch is counted once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import tables
from search.config import ParamSpec
from tests.bench.scripts import load_bench_script
from tests.search.tiny import TINY

EPOCHS = 4
GRACE, FACTOR = 1, 2
RUNGS = {1, 2, 4}  # ASHA's milestones with grace 1, reduction factor 2, max_t 4


@pytest.fixture(scope="module")
def table_module():
    return tables


@pytest.fixture(scope="module")
def replay_module():
    return load_bench_script("search_efficiency")


def test_grid_values_split_each_range_into_equal_cells(table_module):
    uniform = ParamSpec(type="uniform", low=0.0, high=0.9)
    assert table_module.grid_values(uniform, 3) == [0.15, 0.45, 0.75]
    log = table_module.grid_values(ParamSpec(type="loguniform", low=0.001, high=1.0), 3)
    assert log == pytest.approx([10**-2.5, 10**-1.5, 10**-0.5], rel=1e-5)  # 6 significant digits
    assert table_module.grid_values(ParamSpec(type="choice", values=["a", "b"]), 3) == ["a", "b"]


def test_nearest_grid_point_in_each_keys_own_scale(table_module):
    table = {
        "grid": {"a": [0.15, 0.45, 0.75], "b": [10**-2.5, 10**-1.5, 10**-0.5]},
        "space": {
            "a": {"type": "uniform", "low": 0.0, "high": 0.9},
            "b": {"type": "loguniform", "low": 0.001, "high": 1.0},
        },
    }
    # 0.05 is nearer 0.0316 than 0.316 on a linear scale, but in the log scale it lies in the middle third.
    assert table_module.nearest(table, {"a": 0.31, "b": 0.05}) == {"a": 0.45, "b": 10**-1.5}
    assert table_module.nearest(table, {"a": 0.29, "b": 0.0011}) == {"a": 0.15, "b": 10**-2.5}


def _table(path: Path) -> None:
    """2 x 2 grid x 2 seeds; one point learns (0.1 .. 0.9), the rest stay low, so ASHA has weak trials to stop."""
    grid = {"train.adv_weight": [0.25, 0.75], "augment.occlusion_prob": [0.2, 0.6]}
    config = {k: v for k, v in TINY.items()}
    config["search"] = {
        **TINY["search"],
        "space": {
            "train.adv_weight": {"type": "uniform", "low": 0.0, "high": 1.0},
            "augment.occlusion_prob": {"type": "uniform", "low": 0.0, "high": 0.8},
        },
    }
    config["train"] = {**TINY["train"], "epochs": EPOCHS}
    config["scheduler"] = {"type": "asha", "grace_period": GRACE, "reduction_factor": FACTOR}
    runs = []
    for i, adv in enumerate(grid["train.adv_weight"]):
        for j, occ in enumerate(grid["augment.occlusion_prob"]):
            for seed in (0, 1):
                good = i == 1 and j == 0
                base = 0.1 if good else 0.01 * (1 + i + 2 * j)
                curve = [round(base * (e + 1) * (2 if good else 1) + 0.001 * seed, 6) for e in range(EPOCHS)]
                runs.append(
                    {
                        "params": {"train.adv_weight": adv, "augment.occlusion_prob": occ},
                        "seed": seed,
                        "status": "TERMINATED",
                        "epochs": EPOCHS,
                        "curves": {"target_val_pdj20": curve},
                    }
                )
    path.write_text(
        json.dumps(
            {
                "config": config,
                "metric": "target_val_pdj20",
                "mode": "max",
                "epochs": EPOCHS,
                "space": config["search"]["space"],
                "grid": grid,
                "seeds": [0, 1],
                "runs": runs,
            }
        )
    )


@pytest.mark.slow
def test_replay_stops_trials_at_rungs_and_counts_every_epoch(tmp_path, replay_module, ray_session):
    table = tmp_path / "table.json"
    _table(table)
    out = tmp_path / "out"
    args = ["--table", str(table), "--seeds", "1", "--reference-trials", "2", "--budget-factor", "2"]
    args += ["--strategies", "tpe+asha,random", "--storage", str(tmp_path / "runs"), "--out", str(out)]
    assert replay_module.main([*args, "--engine", "tune"]) == 0
    result = json.loads((out / "search_efficiency.json").read_text())
    budget = result["budget_trial_epochs"]
    assert (result["reference_trial_epochs"], budget) == (2 * EPOCHS, 4 * EPOCHS)
    recorded = {v for run in json.loads(table.read_text())["runs"] for v in run["curves"]["target_val_pdj20"]}
    stopped_early = 0
    for name, strategy in result["strategies"].items():
        assert strategy["seeds"] == 1
        for run in strategy["runs"]:
            # Every reported epoch counted once, and the search ended at the budget.
            assert run["trial_epochs"] == budget == sum(run["epochs_per_trial"]), (name, run)
            assert run["best_at_budget"] in recorded and run["best_at_reference"] in recorded
            finished = run["epochs_per_trial"][:-1]  # the last trial may be cut by the budget
            if name == "random":
                assert finished == [EPOCHS] * len(finished)
            else:
                assert set(finished) <= RUNGS, run["epochs_per_trial"]
                stopped_early += sum(e < EPOCHS for e in finished)
    assert stopped_early > 0  # ASHA did stop weak trials at a rung
    reach = result["strategies"]["random"]["trial_epochs_to_target"]
    assert math.isfinite(reach["median"]) and reach["median"] <= result["reference_trial_epochs"]
    assert (out / "search_efficiency.png").read_bytes()[:4] == b"\x89PNG"

    # The direct engine (the same searcher and scheduler without Ray) replays the same searches exactly.
    direct = tmp_path / "direct"
    args[args.index(str(out))] = str(direct)
    assert replay_module.main([*args, "--engine", "direct"]) == 0
    fast = json.loads((direct / "search_efficiency.json").read_text())
    for name, strategy in result["strategies"].items():
        assert strategy["curve"] == fast["strategies"][name]["curve"], name
        for slow_run, fast_run in zip(strategy["runs"], fast["strategies"][name]["runs"], strict=True):
            assert slow_run["epochs_per_trial"] == fast_run["epochs_per_trial"], name
