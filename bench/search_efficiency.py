"""What the search buys, measured on a table of recorded learning curves (a tabular benchmark).

`python -m bench.search_table` trained a grid over the search space x 2 training seeds and recorded every epoch.
This replays the product's own search over that table: `search.tuner.build_tuner` with the real
OptunaSearch (TPE or random sampler) and the real ASHA scheduler (or none), `search.algorithm` and
`scheduler.type` overridden per strategy, and a trainable that returns a recorded curve instead of
training. Each replayed trial maps Optuna's (continuous) suggestion to the nearest grid point, key by key
in the key's own scale (the grid values are the centres of equal parts of each range, so every grid
point owns an equal share of the space), picks one of the point's recorded training seeds by a hash of
(search seed, the suggestion), and reports that run's curve epoch by epoch with `tune.report`, so ASHA
stops it at a rung exactly as it would stop a real trial, and Optuna is told what it would be told.

Method. Trials run one at a time (`search.max_concurrent` 1: each suggestion sees every earlier result,
and the order of results is deterministic). A Stopper ends each search at `--budget-factor` x random
search's reference budget (`--reference-trials` full trials) in trial-epochs: one trial-epoch per reported
result, whether the trial then goes on or ASHA stops it. The curve at x is the best search metric among the
first x trial-epochs. Target: the median over seeds of random search's best at its reference budget. For
every strategy and seed: the trial-epochs needed to reach the target (never within the budget counts as
infinite); median over seeds with a bootstrap 95 % CI (seeds resampled), and the ratio of medians to
random search's, with its own bootstrap CI.

    python -m bench.search_efficiency [--table bench/results/search_table.json] [--seeds 50] [--out bench/results]
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import types
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import ray
from matplotlib.figure import Figure
from ray import cloudpickle, tune
from ray.tune.schedulers import TrialScheduler
from ray.tune.search.optuna import OptunaSearch

import bench.tables
from bench.common import chosen_strategies, command, print_strategies, replay_parser
from bench.tables import grid_key, load_table, nearest
from search.cluster import init_ray
from search.config import apply_override, config_from_dict
from search.experiment import experiment_uri, write_experiment_manifest
from search.tracking import wandb_env
from search.tuner import build_scheduler, build_searcher, build_tuner

STRATEGIES = {
    "tpe+asha": {"search.algorithm": "tpe", "scheduler.type": "asha"},
    "tpe": {"search.algorithm": "tpe", "scheduler.type": "none"},
    "random+asha": {"search.algorithm": "random", "scheduler.type": "asha"},
    "random": {"search.algorithm": "random", "scheduler.type": "none"},
}
BOOTSTRAP = 2000


# ------------------------------------------------------------------------------------------ the replay


def replay_table(table: dict, metric: str) -> dict:
    """What a replayed trial needs: the grid, the space, and each (grid point, seed)'s curve of `metric`."""
    curves = {}
    for (point, seed), run in table["index"].items():
        curve = run["curves"].get(metric)
        if run["epochs"] != table["epochs"] or not curve or any(v is None for v in curve):
            raise ValueError(
                f"{point} seed {seed}: {metric} recorded for {run['epochs']} of {table['epochs']} epochs; "
                "replay needs full curves (re-record the table)"
            )
        curves[f"{point}|{seed}"] = curve
    return {"grid": table["grid"], "space": table["space"], "seeds": table["seeds"], "metric": metric,
            "curves": curves}  # fmt: skip


def replay_seed(seeds: list[int], search_seed: int, params: dict[str, Any]) -> int:
    """Which recorded training seed a trial replays: drawn from (search seed, the exact suggestion), so
    a search replays the same way every time and two suggestions of one grid point may differ."""
    suggestion = zlib.crc32(json.dumps(params, sort_keys=True).encode())
    return seeds[int(np.random.default_rng([search_seed, suggestion]).integers(len(seeds)))]


def replay_trial(params: dict[str, Any], experiment: dict[str, Any], table: dict) -> None:
    """Tune function trainable: the recorded curve of the grid point nearest to `params`, epoch by epoch."""
    point = nearest(table, params)
    seed = replay_seed(table["seeds"], experiment["search"]["seed"], params)
    for epoch, value in enumerate(table["curves"][f"{grid_key(point)}|{seed}"], start=1):
        tune.report({table["metric"]: value, "epoch": epoch, "table_seed": seed})


def _pickle_by_value() -> None:
    """Ship this module's trainable and the tables it reads to Ray's workers by value: a worker need not
    have bench/ on its path (a cluster's nodes hold the installed package, not the repository)."""
    for module in (sys.modules[__name__], bench.tables):
        if module.__name__ != "__main__":
            cloudpickle.register_pickle_by_value(module)


def _ledger_and_stopper(metric: str, budget: int):
    """A callback keeping every result in order of arrival, and the Stopper ending the search at `budget`."""
    class Ledger(tune.Callback):
        """Every result in order of arrival at the driver: (trial, epoch, metric, searched values)."""

        def __init__(self):
            self.rows, self.seen = [], set()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            key = (trial.trial_id, int(result["training_iteration"]))
            if key not in self.seen:
                self.seen.add(key)
                self.rows.append((*key, float(result[metric])))

    class BudgetStopper(tune.Stopper):
        """Ends the search once `budget` trial-epochs were reported (Tune shows a finished trial's last
        result to the stopper twice, so results count once per (trial, iteration))."""

        def __init__(self):
            self.seen = set()

        def __call__(self, trial_id, result):
            self.seen.add((trial_id, int(result["training_iteration"])))
            return False

        def stop_all(self):
            return len(self.seen) >= budget

    return Ledger(), BudgetStopper()


def run_search(config, uri: str, table: dict, budget: int, engine: str = "tune") -> dict:
    """One replayed search of `config` until `budget` trial-epochs: its best-so-far curve and its trials."""
    # As `launch` does: the experiment folder (Optuna's journal lives in it) with its manifest.
    write_experiment_manifest(uri, uri.rsplit("/", 1)[-1], config)
    start = time.perf_counter()
    if engine == "direct":
        rows = drive_directly(config, uri, table_curve(table, config.search.seed), budget)
    else:
        ledger, stopper = _ledger_and_stopper(config.search.metric, budget)
        tuner = build_tuner(
            config, uri, callbacks_extra=[ledger], stop=stopper, trainable=replay_trial,
            trainable_args={"table": table},
        )  # fmt: skip
        tuner.fit()
        rows = ledger.rows[:budget]
    return search_record(rows, budget, config.search.mode, start)


def search_record(rows: list[tuple[str, int, float]], budget: int, mode: str, start: float) -> dict:
    """One search's (trial, epoch, value) rows in order of arrival as its best-so-far curve over `budget`
    trial-epochs, its trials and the epochs each ran; `start` is its perf_counter start."""
    values = np.array([v for _, _, v in rows])
    # A search that ran out of trials before the budget keeps its best for the rest of it.
    values = np.concatenate([values, np.full(budget - len(values), values[-1] if len(values) else np.nan)])
    direction = sign(mode)
    epochs_per_trial: dict[str, int] = {}
    for trial_id, epoch, _ in rows:
        epochs_per_trial[trial_id] = max(epochs_per_trial.get(trial_id, 0), epoch)
    return {
        "wall_s": round(time.perf_counter() - start, 3),
        "trial_epochs": len(rows),
        "trials": len(epochs_per_trial),
        "epochs_per_trial": list(epochs_per_trial.values()),
        "best_so_far": (direction * np.maximum.accumulate(direction * values)).round(6).tolist(),
    }


def table_curve(table: dict, search_seed: int):
    """A replayed trial's curve: the recorded run of the grid point nearest to its suggestion."""

    def curve_of(params: dict[str, Any]) -> list[float]:
        seed = replay_seed(table["seeds"], search_seed, params)
        return table["curves"][f"{grid_key(nearest(table, params))}|{seed}"]

    return curve_of


def drive_directly(
    config, uri: str, curve_of, budget: int, *, sampler=None, ray_searcher: bool = False
) -> list[tuple[str, int, float]]:
    """The search's own searcher and ASHA (built by the functions build_tuner uses: the product's
    TruthfulOptunaSearch, whatever tells Optuna) driven with the calls Tune's controller makes, in its order
    (ray 2.60 tune_controller.py: _on_training_result, _process_trial_result, stop_trial), without Ray:
    milliseconds per trial instead of Tune's per-trial actor round trips. `curve_of(params)` is a trial's
    metric at epochs 1, 2, ...; `sampler` replaces the config's Optuna sampler; `ray_searcher` drives Ray's
    own OptunaSearch instead (the same study, told what Ray tells it: to measure what the product's fixes).

    `search.max_concurrent` trials run at once, every epoch taking one unit of time: each round every
    running trial reports its next epoch (in the order they started), stopped trials free their slot, and
    the free slots are filled by new suggestions before the next round, so a suggestion sees every result
    reported before it and the still-running trials (TPE's constant liar). With one trial at a time this
    reproduces the Tune engine result for result (tests/bench/test_search_efficiency.py checks it). At the
    budget the search ends and the trials still running are stopped as Tune's stopper stops them."""
    metric, mode = config.search.metric, config.search.mode
    searcher, scheduler = build_searcher(config, uri, sampler), build_scheduler(config)
    if ray_searcher:  # the product's searcher only adds methods and plain attributes to Ray's
        searcher.__class__ = OptunaSearch
    if scheduler is not None:
        scheduler.set_search_properties(metric, mode)
    rows: list[tuple[str, int, float]] = []
    running: list[dict] = []  # {trial, curve, epoch, result} of the trials running now, in start order
    started, exhausted = 0, False

    def finish(entry: dict) -> None:
        trial, result = entry["trial"], entry["result"]
        if result is None:  # Tune's stop_trial of a trial that never reported
            if scheduler is not None:
                scheduler.on_trial_remove(None, trial)
            searcher.on_trial_complete(trial.trial_id)
        else:
            if scheduler is not None:
                scheduler.on_trial_complete(None, trial, result)
            searcher.on_trial_complete(trial.trial_id, result=result)  # its last result
        running.remove(entry)

    while True:
        while not exhausted and len(running) < config.search.max_concurrent:
            if started >= config.search.num_samples:
                exhausted = True
                break
            trial = types.SimpleNamespace(trial_id=f"{started:05d}")
            started += 1
            params = searcher.suggest(trial.trial_id)
            if params is None:
                exhausted = True
                break
            if scheduler is not None:
                scheduler.on_trial_add(None, trial)
            running.append({"trial": trial, "curve": curve_of(params), "epoch": 0, "result": None})
        if not running:
            return rows
        for entry in list(running):  # one round: each running trial's next epoch
            trial = entry["trial"]
            entry["epoch"] += 1
            value = entry["curve"][entry["epoch"] - 1]
            result = entry["result"] = {metric: value, "training_iteration": entry["epoch"]}
            rows.append((trial.trial_id, entry["epoch"], float(value)))
            out_of_budget = len(rows) >= budget  # the budget Stopper ends the search on this result
            decision = TrialScheduler.CONTINUE
            if out_of_budget:
                decision = TrialScheduler.STOP
            elif scheduler is not None:
                decision = scheduler.on_trial_result(None, trial, result)
            if decision != TrialScheduler.STOP:  # Tune tells the searcher only the results that go on
                searcher.on_trial_result(trial.trial_id, result)
            if decision == TrialScheduler.STOP or entry["epoch"] == len(entry["curve"]):
                finish(entry)
            if out_of_budget:
                for other in list(running):
                    finish(other)
                return rows


# ----------------------------------------------------------------------------------------- statistics


def trial_epochs_to_reach(curve: list[float], target: float, mode: str) -> float:
    """The first x (1-based) at which the best-so-far curve reaches `target`; inf when it never does."""
    for x, value in enumerate(curve, start=1):
        if (value >= target - 1e-12) if mode == "max" else (value <= target + 1e-12):
            return float(x)
    return math.inf


def sign(mode: str) -> float:
    return 1.0 if mode == "max" else -1.0


def median_ci(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """Median and bootstrap 95 % CI (seeds resampled); inf (never reached) sorts last."""
    boot = np.median(rng.choice(values, size=(BOOTSTRAP, len(values))), axis=1)
    low, high = np.percentile(boot, [2.5, 97.5], method="inverted_cdf")
    return float(np.median(values)), float(low), float(high)


def ratio_ci(
    values: np.ndarray, reference: np.ndarray, rng: np.random.Generator
) -> tuple[float, float, float]:
    """Ratio of medians (values / reference) with a bootstrap 95 % CI, both resampled independently."""
    a = np.median(rng.choice(values, size=(BOOTSTRAP, len(values))), axis=1)
    b = np.median(rng.choice(reference, size=(BOOTSTRAP, len(reference))), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = a / b
    ratios = np.where(np.isnan(ratios), math.inf, ratios)  # inf / inf: never reached by either
    low, high = np.percentile(ratios, [2.5, 97.5], method="inverted_cdf")
    point = np.median(values) / np.median(reference) if math.isfinite(np.median(reference)) else math.nan
    return float(point), float(low), float(high)


def summarize(runs: dict[str, list[dict]], *, budget: int, reference: int, mode: str) -> dict:
    """Target, trial-epochs to reach it per strategy (median, CI, ratio to random), and the curves."""
    rng = np.random.default_rng(0)
    random_final = np.array([r["best_so_far"][reference - 1] for r in runs["random"]])
    # The lower median: a value some random search did reach (the mean of two middle ones may be neither).
    target = float(np.quantile(sign(mode) * random_final, 0.5, method="lower") * sign(mode))
    reach = {
        name: np.array([trial_epochs_to_reach(r["best_so_far"], target, mode) for r in rs])
        for name, rs in runs.items()
    }
    out = {
        "target": target,
        "reference_trial_epochs": reference,
        "budget_trial_epochs": budget,
        "strategies": {},
    }
    for name, rs in runs.items():
        finals = np.array([r["best_so_far"][reference - 1] for r in rs])
        median, low, high = median_ci(reach[name], rng)
        ratio, rlow, rhigh = ratio_ci(reach[name], reach["random"], rng)
        curves = np.array([r["best_so_far"] for r in rs])
        out["strategies"][name] = {
            "seeds": len(rs),
            "trial_epochs_to_target": {"median": median, "ci95": [low, high]},
            "ratio_to_random": {"median": ratio, "ci95": [rlow, rhigh]},
            "reached_within_budget": int(np.isfinite(reach[name]).sum()),
            "best_at_reference": {
                "median": float(np.median(finals)),
                "iqr": np.percentile(finals, [25, 75]).tolist(),
            },
            "trials_started_mean": float(np.mean([r["trials"] for r in rs])),
            "epochs_per_trial_mean": float(np.mean([np.mean(r["epochs_per_trial"]) for r in rs])),
            "per_seed_trial_epochs_to_target": reach[name].tolist(),
            "runs": [
                {k: r[k] for k in ("seed", "wall_s", "trials", "trial_epochs", "epochs_per_trial")}
                | {
                    "best_at_reference": r["best_so_far"][reference - 1],
                    "best_at_budget": r["best_so_far"][-1],
                }
                for r in rs
            ],
            "curve": {
                q: np.percentile(curves, p, axis=0).round(6).tolist()
                for q, p in (("p25", 25), ("median", 50), ("p75", 75))
            },  # fmt: skip
        }
    return out


def plot(summary: dict, metric: str, path: Path) -> None:
    """Each strategy's best-so-far curve over the trial-epochs spent (median, quartile band)."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    budget = summary["budget_trial_epochs"]
    x = np.arange(1, budget + 1)
    for name, s in summary["strategies"].items():
        c = s["curve"]
        med, (low, high) = s["trial_epochs_to_target"]["median"], s["trial_epochs_to_target"]["ci95"]
        label = f"{name}: {med:g} [{low:g}, {high:g}]" if math.isfinite(med) else f"{name}: not reached"
        (line,) = ax.plot(x, c["median"], drawstyle="steps-post", label=label)
        ax.fill_between(x, c["p25"], c["p75"], step="post", alpha=0.15, color=line.get_color())
    ax.axhline(summary["target"], color="grey", ls=":", lw=1)
    ax.axvline(summary["reference_trial_epochs"], color="grey", ls="--", lw=1)
    ax.set_xlabel("trial-epochs spent")
    ax.set_ylabel(f"best {metric} so far")
    seeds = next(iter(summary["strategies"].values()))["seeds"]
    ax.set_title(
        f"Replayed searches on the recorded table: median, band = quartiles over {seeds} search seeds\n"
        "dashed: random's reference budget; dotted: its median best there (the target)",
        fontsize=9,
    )
    ax.legend(title="trial-epochs to target, median [95 % CI]", fontsize=8, title_fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def write_results(
    runs, args, table, base, *, budget: int, reference: int, start: float, argv, plots=True
) -> dict:
    """Summary of the seeds run so far, written as <out>/<name>.json (and .png)."""
    metric, mode, epochs = base.search.metric, base.search.mode, table["epochs"]
    summary = summarize(runs, budget=budget, reference=reference, mode=mode)
    result = {
        "method": __doc__.split("Method.")[1].split("\n\n")[0].replace("\n", " ").strip(),
        "table": args.table,
        "table_grid": table["grid"],
        "table_seeds": table["seeds"],
        "epochs_per_trial": epochs,
        "metric": metric,
        "mode": mode,
        "scheduler": {
            "grace_period": base.scheduler.grace_period,
            "reduction_factor": base.scheduler.reduction_factor,
            "max_t": epochs,
        },
        "evaluate_defaults_first": base.search.evaluate_defaults_first,
        "engine": args.engine,
        "wall_s": round(time.perf_counter() - start, 1),
        "searches": sum(len(rs) for rs in runs.values()),
        "trials": sum(r["trials"] for rs in runs.values() for r in rs),
        "load_average": list(os.getloadavg()),
        "command": command("bench.search_efficiency", argv),
        **summary,
    }
    out = Path(args.out)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    if plots:
        plot(summary, metric, out / f"{args.name}.png")
    return result


# ------------------------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    parser = replay_parser(
        __doc__,
        STRATEGIES,
        reference_trials=8,
        storage="/tmp/posetune-bench-replay",
        storage_help="where the replayed searches live",
        name="search_efficiency",
    )
    parser.add_argument("--table", default="bench/results/search_table.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--engine", choices=("tune", "direct"), default="direct",
        help="tune: build_tuner's Tuner with Ray (about 0.1-0.5 s per trial); direct: the same searcher and "
        "scheduler driven without Ray, result for result the same (default)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    strategies = chosen_strategies(parser, args, STRATEGIES)
    table = load_table(args.table)
    raw = copy.deepcopy(table["config"])
    fixed = ["tracking.wandb=none", f"storage.path={args.storage}", "search.max_concurrent=1"]
    for override in fixed + args.overrides:
        apply_override(raw, override, path=args.table)
    base = config_from_dict(raw, path=args.table)
    metric, epochs = base.search.metric, table["epochs"]
    replay = replay_table(table, metric)
    reference = args.reference_trials * epochs
    budget = int(round(args.budget_factor * reference))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[dict]] = {name: [] for name in strategies}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _pickle_by_value()
    if args.engine == "tune":
        init_ray(None, wandb_env(None))
    try:
        for seed in range(args.seeds):  # seed-major: every strategy has the same seeds at any moment
            for name in strategies:
                strategy = STRATEGIES[name]
                asha = strategy["scheduler.type"] == "asha"
                per_trial = base.scheduler.grace_period if asha else epochs
                config = base.with_params(
                    {**strategy, "search.seed": seed, "search.num_samples": math.ceil(budget / per_trial),
                     "scheduler.max_t": epochs}
                )  # fmt: skip
                uri = experiment_uri(base.storage.path, f"replay-{stamp}-{name.replace('+', '-')}-s{seed}")
                runs[name].append({"seed": seed, **run_search(config, uri, replay, budget, args.engine)})
            done = sum(len(rs) for rs in runs.values())
            print(f"seed {seed}: {done} searches in {time.perf_counter() - start:.0f} s", flush=True)
            if seed < args.seeds - 1:  # what is done so far stays on disk if the run is cut short
                write_results(runs, args, table, base, budget=budget, reference=reference, start=start,
                              argv=argv, plots=seed % 10 == 9)  # fmt: skip
    finally:
        ray.shutdown()
    result = write_results(
        runs, args, table, base, budget=budget, reference=reference, start=start, argv=argv
    )
    print_strategies(result, reference)
    print(
        f"{result['searches']} searches, {result['trials']} trials in {result['wall_s']:.0f} s "
        f"-> {out / args.name}.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
