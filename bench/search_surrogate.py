"""What the search buys on the demo's own model and data: strategies replayed over a surrogate of the Sobol table.

`python -m bench.search_table --sobol` trained scrambled-Sobol configurations of the demo's search space
(`search/configs/demo.yaml`: its model, data, warm start and trial, 6 epochs, no early stopping) and kept
every epoch's metrics (`bench/results/search_table_demo.jsonl`). Surrogate benchmarks (YAHPO Gym,
HPOBench) replay searches over a regressor fitted on such a table, since a search suggests points that
were never trained: here scikit-learn's random forest over (the configuration's unit coordinates, in each
key's own scale as `bench.tables.unit`; the epoch) -> target-val PDJ@0.2, fitted on every recorded run
(both training seeds where there are two). Its accuracy on configurations it never saw (GroupKFold by
configuration, 5 folds: R^2, Spearman, RMSE over the held-out checkpoints) is reported beside the seed
noise (the std between the two training seeds of the repeated configurations, per epoch, pooled), which
bounds what any surrogate can reach.

Method. Strategies (`bench.search_efficiency_hartmann6.STRATEGIES`: random, random + ASHA, TPE, TPE + ASHA,
CMA-ES, each with 1 and with 4 trials at once) run through `bench.search_efficiency.drive_directly`: the
product's searcher (TruthfulOptunaSearch with the configured Optuna sampler; CMA-ES as the Hartmann bench
builds it) and its ASHA (the demo's grace period and reduction factor, max_t = the table's epochs), the
calls Tune's controller makes, without Ray. A trial with suggestion x reports at epoch e the surrogate's
prediction at (x, e): deterministic, the seed-averaged curve. Budgets, target and statistics are
bench.search_efficiency's: a search ends at `--budget-factor` x random search's reference budget
(`--reference-trials` full trials at one trial at a time) in trial-epochs; the target is random search's
median best at its reference budget; per strategy the trial-epochs to reach it (median, bootstrap 95 % CI
over seeds, ratio of medians to random search's with its CI) and the best-so-far curves (median, quartile
band).

    nice -n 10 python -m bench.search_surrogate [--table bench/results/search_table_demo.jsonl] [--seeds 50]
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import GroupKFold

from bench.common import chosen_strategies, command, plot_strategy_curves, print_strategies, replay_parser
from bench.search_efficiency import drive_directly, search_record, summarize
from bench.search_efficiency_hartmann6 import STRATEGIES, make_sampler
from bench.tables import read_jsonl_table, unit
from search.config import ParamSpec, apply_override, config_from_dict
from search.experiment import experiment_uri, write_experiment_manifest

FOLDS = 5
FOREST = {"n_estimators": 300, "min_samples_leaf": 2, "max_features": 0.6, "random_state": 0, "n_jobs": 1}


# ------------------------------------------------------------------------------------------ the surrogate


def design(table: dict, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, groups): a row per recorded (run, epoch): the run's unit coordinates and the epoch; the
    metric there; the configuration (the CV group)."""
    X, y, groups = [], [], []
    for run in table["runs"]:
        curve = run["curves"].get(metric) or []
        for epoch, value in enumerate(curve, start=1):
            if value is not None and math.isfinite(value):
                X.append([*run["unit"], epoch])
                y.append(value)
                groups.append(run["index"])
    return np.array(X, dtype=float), np.array(y, dtype=float), np.array(groups)


def make_forest():
    """The surrogate's (unfitted) random forest, with the `FOREST` settings."""
    return RandomForestRegressor(**FOREST)


class FlatForest:
    """A fitted scikit-learn forest's prediction, every tree walked at once with numpy (the trees'
    node arrays stacked): the same numbers as `forest.predict`, ~100x faster for the few rows a replayed
    trial asks for (sklearn's per-call overhead dominates there)."""

    def __init__(self, forest):
        trees = [e.tree_ for e in forest.estimators_]
        n = max(t.node_count for t in trees)

        def stack(attr, fill):
            out = np.full((len(trees), n), fill, dtype=getattr(trees[0], attr).dtype)
            for i, t in enumerate(trees):
                out[i, : t.node_count] = getattr(t, attr)
            return out

        self.feature, self.threshold = stack("feature", -2), stack("threshold", 0.0)
        self.left, self.right = stack("children_left", -1), stack("children_right", -1)
        self.value = np.zeros((len(trees), n))
        for i, t in enumerate(trees):
            self.value[i, : t.node_count] = t.value[:, 0, 0]
        self.rows = np.arange(len(trees))[:, None]

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32).astype(float)  # sklearn compares float32 inputs
        node = np.zeros((len(self.feature), len(X)), dtype=np.intp)
        cols = np.arange(len(X))[None, :]
        while True:
            feature = self.feature[self.rows, node]
            inner = feature >= 0
            if not inner.any():
                return self.value[self.rows, node].mean(axis=0)
            go_left = X[cols, np.where(inner, feature, 0)] <= self.threshold[self.rows, node]
            step = np.where(go_left, self.left[self.rows, node], self.right[self.rows, node])
            node = np.where(inner, step, node)


def cv_accuracy(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = FOLDS) -> dict:
    """Held-out accuracy on configurations the forest never saw (GroupKFold by configuration)."""
    predicted = np.empty_like(y)
    for train, test in GroupKFold(n_splits=folds).split(X, y, groups):
        predicted[test] = make_forest().fit(X[train], y[train]).predict(X[test])
    residual = y - predicted
    last = X[:, -1] == X[:, -1].max()
    return {
        "folds": folds,
        "r2": round(float(1 - np.sum(residual**2) / np.sum((y - y.mean()) ** 2)), 4),
        "spearman": round(float(spearmanr(predicted, y).statistic), 4),
        "rmse": round(float(np.sqrt(np.mean(residual**2))), 5),
        "spearman_last_epoch": round(float(spearmanr(predicted[last], y[last]).statistic), 4),
        "rmse_last_epoch": round(float(np.sqrt(np.mean(residual[last] ** 2))), 5),
        "y_std": round(float(np.std(y)), 5),
        "checkpoints": len(y),
    }


def seed_noise(table: dict, metric: str) -> dict:
    """Std between the two training seeds of each repeated configuration, per epoch, pooled (root mean
    of (a - b)^2 / 2), over all epochs and at the last one."""
    by: dict[int, dict[int, list]] = {}
    for run in table["runs"]:
        by.setdefault(run["index"], {})[run["seed"]] = run["curves"].get(metric)
    pairs = [np.array(list(s.values())[:2], dtype=float) for s in by.values() if len(s) >= 2]
    if not pairs:
        return {"configurations": 0}
    diffs = np.array([p[0] - p[1] for p in pairs])  # (configs, epochs)
    return {
        "configurations": len(pairs),
        "std_all_epochs": round(float(np.sqrt(np.nanmean(diffs**2) / 2)), 5),
        "std_last_epoch": round(float(np.sqrt(np.nanmean(diffs[:, -1] ** 2) / 2)), 5),
    }


def surrogate_curve(model, space: dict[str, ParamSpec], epochs: int):
    """A replayed trial's curve: the forest's prediction at (its suggestion's unit coordinates, e)."""
    keys = list(space)

    def curve_of(params: dict) -> list[float]:
        u = [unit(space[k], params[k]) for k in keys]
        return model.predict(np.array([[*u, e] for e in range(1, epochs + 1)], dtype=float)).tolist()

    return curve_of


# ------------------------------------------------------------------------------------------------ replay


def base_config(table: dict, storage: str):
    """The table's own config, training nothing (no warm start), its searches under `storage`."""
    raw = copy.deepcopy(table["config"])
    raw["train"]["init_from"] = None  # the replay trains nothing
    raw["warm_start"] = {}
    for override in ("tracking.wandb=none", f"storage.path={storage}", f"scheduler.max_t={table['epochs']}"):
        apply_override(raw, override, path="table header")
    return config_from_dict(raw, path="table header")


def run(name: str, seed: int, base, curve_of, budget: int, stamp: str) -> dict:
    """One search of strategy `name` with search seed `seed` over the surrogate: its record."""
    sampler_name, scheduler, concurrent = STRATEGIES[name]
    per_trial = base.scheduler.grace_period if scheduler == "asha" else base.train.epochs
    config = base.with_params(
        {"search.algorithm": "tpe" if sampler_name == "cmaes" else sampler_name, "scheduler.type": scheduler,
         "search.seed": seed, "search.num_samples": math.ceil(budget / per_trial) + concurrent,
         "search.max_concurrent": concurrent}
    )  # fmt: skip
    slug = name.replace("+", "-").replace("/", "-")
    uri = experiment_uri(base.storage.path, f"surrogate-{stamp}-{slug}-s{seed}")
    write_experiment_manifest(uri, uri.rsplit("/", 1)[-1], config)
    start = time.perf_counter()
    rows = drive_directly(config, uri, curve_of, budget, sampler=make_sampler(sampler_name, config))
    return {"seed": seed, **search_record(rows, budget, config.search.mode, start)}


def plot(summary: dict, metric: str, configs: int, path: Path) -> None:
    """The strategies' best-so-far curves on the surrogate (`bench.common.plot_strategy_curves`)."""
    plot_strategy_curves(
        summary,
        {name: concurrent for name, (_, _, concurrent) in STRATEGIES.items()},
        path,
        ylabel=f"best {metric} so far (surrogate)",
        title=f"Demo search replayed over a random-forest surrogate of {configs} Sobol configurations",
    )


def main(argv=None) -> int:
    parser = replay_parser(
        __doc__,
        STRATEGIES,
        reference_trials=20,
        storage="/dev/shm/posetune-bench-surrogate",
        storage_help="the searches' folders",
        name="search_efficiency",
    )
    parser.add_argument("--table", default="bench/results/search_table_demo.jsonl")
    args = parser.parse_args(argv)
    strategies = chosen_strategies(parser, args, STRATEGIES)
    table = read_jsonl_table(args.table)
    table["runs"] = [
        r for r in table["runs"] if r["status"] == "TERMINATED" and r["epochs"] == table["epochs"]
    ]
    base = base_config(table, args.storage)
    metric, epochs = base.search.metric, table["epochs"]
    X, y, groups = design(table, metric)
    configs = int(len(np.unique(groups)))
    started = time.perf_counter()
    accuracy = cv_accuracy(X, y, groups)
    noise = seed_noise(table, metric)
    model = FlatForest(make_forest().fit(X, y))
    print(
        f"{configs} configurations, {len(table['runs'])} runs; surrogate held-out {accuracy}; seed noise {noise}"
    )
    space = {k: ParamSpec(**v) for k, v in table["space"].items()}
    curve_of = surrogate_curve(model, space, epochs)
    reference = args.reference_trials * epochs
    budget = int(round(args.budget_factor * reference))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[dict]] = {name: [] for name in strategies}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def write(plots: bool) -> dict:
        summary = summarize(runs, budget=budget, reference=reference, mode=base.search.mode)
        result = {
            "method": __doc__.split("Method.")[1].split("\n\n")[0].replace("\n", " ").strip(),
            "table": args.table,
            "table_grid": None,  # a Sobol table: no grid (bench.search_table's grid tables have one)
            "table_seeds": table["seeds"],
            "table_configs": configs,
            "table_runs": len(table["runs"]),
            "epochs_per_trial": epochs,
            "metric": metric,
            "mode": base.search.mode,
            "surrogate": {
                "model": f"sklearn.ensemble.RandomForestRegressor({FOREST})",
                "features": [*table["space"], "epoch"],
                "held_out": accuracy,
            },
            "seed_noise": noise,
            "scheduler": {
                "grace_period": base.scheduler.grace_period,
                "reduction_factor": base.scheduler.reduction_factor,
                "max_t": epochs,
            },
            "strategy_settings": {
                n: {"sampler": s, "scheduler": sch, "max_concurrent": c}
                for n, (s, sch, c) in STRATEGIES.items()
                if n in strategies
            },
            "evaluate_defaults_first": base.search.evaluate_defaults_first,
            "engine": "direct",
            "searcher": "search.searcher.TruthfulOptunaSearch",
            "wall_s": round(time.perf_counter() - started, 1),
            "searches": sum(len(rs) for rs in runs.values()),
            "trials": sum(r["trials"] for rs in runs.values() for r in rs),
            "load_average": list(os.getloadavg()),
            "command": "nice -n 10 " + command("bench.search_surrogate", argv),
            **summary,
        }
        (out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
        if plots:
            plot(summary, metric, configs, out / f"{args.name}.png")
        return result

    for seed in range(args.seeds):  # seed-major: every strategy has the same seeds at any moment
        for name in strategies:
            runs[name].append(run(name, seed, base, curve_of, budget, stamp))
        print(
            f"seed {seed}: {sum(map(len, runs.values()))} searches in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        if seed < args.seeds - 1 and seed % 10 == 9:
            write(plots=False)
    result = write(plots=True)
    print_strategies(result, reference)
    print(f"{result['searches']} searches in {result['wall_s']:.0f} s -> {out / args.name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
