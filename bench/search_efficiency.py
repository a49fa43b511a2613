"""What the search buys: best target-val PDJ@0.2 found against trial-epochs spent, for four strategies.

Strategies (the product's own machinery: search.tuner.build_tuner with search.algorithm / scheduler.type
overridden): Optuna TPE + ASHA, TPE without early stopping, random + ASHA, random without early stopping.
Each runs `--seeds` times (search.seed = 0, 1, ...) on the demo data with the same budget of trial-epochs.

Method. Tune has no trial-epoch budget, so a Stopper counts the results (one per trial-epoch) arriving at
the driver and ends the search at exactly `budget` of them; num_samples only caps how many trials may start
(budget / epochs for the strategies without early stopping, which then spend exactly the budget; budget / 2
for ASHA, which stops most trials early). A driver callback records every result in order of arrival; the
curve at x is the best target_val_pdj20 among the first x trial-epochs reported (trials run two at a time,
so x counts compute spent, not trials finished). Mean and min-max over seeds per strategy. The ratio is the
first x at which TPE + ASHA's mean curve reaches random search's (no early stopping) final mean best,
divided by the budget. This is the search's own validation metric: it says how fast each strategy finds a
good validation score, not how that configuration does on test data.

    python bench/search_efficiency.py [--quick] [--seeds 3] [--budget 30] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.metric_names import SELECTION

STRATEGIES = {
    "tpe+asha": {"search.algorithm": "tpe", "scheduler.type": "asha"},
    "tpe": {"search.algorithm": "tpe", "scheduler.type": "none"},
    "random+asha": {"search.algorithm": "random", "scheduler.type": "asha"},
    "random": {"search.algorithm": "random", "scheduler.type": "none"},
}
METRIC = SELECTION
# The demo config scaled down so 4 strategies x 3 seeds x 30 trial-epochs fit in ~25 min on 2 cores.
SCALE = [
    "model.num_features=16",
    "train.epochs=5",
    "train.steps_per_epoch=12",
    "train.max_eval_samples=48",
    "scheduler.grace_period=1",
    "scheduler.reduction_factor=2",
    "search.max_concurrent=2",
    "tracking.wandb=none",
]
QUICK = ["train.epochs=2", "train.steps_per_epoch=2", "train.max_eval_samples=16", "model.num_features=8"]


def _recorder_and_stopper(budget: int):
    from ray import tune

    class Recorder(tune.Callback):
        """Every result in order of arrival at the driver: (trial, epoch, metric)."""

        def __init__(self):
            self.rows = []

        def on_trial_result(self, iteration, trials, trial, result, **info):
            row = (trial.trial_id, int(result["training_iteration"]), float(result[METRIC]))
            if row[:2] not in {r[:2] for r in self.rows}:
                self.rows.append(row)

    class BudgetStopper(tune.Stopper):
        """Ends the search once `budget` trial-epochs have been reported (Tune shows a finished trial's
        last result to the stopper twice, so results count once per (trial, iteration))."""

        def __init__(self):
            self.seen = set()

        def __call__(self, trial_id, result):
            self.seen.add((trial_id, int(result["training_iteration"])))
            return False

        def stop_all(self):
            return len(self.seen) >= budget

    return Recorder(), BudgetStopper()


def run_one(config, uri: str, budget: int) -> dict:
    from search.experiment import write_experiment_manifest
    from search.tuner import build_tuner

    # As `launch` does: the experiment folder (Optuna's journal lives in it) with its manifest, so
    # `posetune search inspect` reads it.
    write_experiment_manifest(uri, uri.rsplit("/", 1)[-1], config)

    recorder, stopper = _recorder_and_stopper(budget)
    start = time.perf_counter()
    build_tuner(config, uri, callbacks_extra=[recorder], stop=stopper).fit()
    values = [v for _, _, v in recorder.rows][:budget]
    return {
        "wall_s": time.perf_counter() - start,
        "trial_epochs": len(values),
        "trials": len({t for t, _, _ in recorder.rows}),
        "results": recorder.rows,
        "best_so_far": np.maximum.accumulate(np.nan_to_num(values, nan=0.0)).tolist(),
    }


def curve_stats(curves: list[list[float]], budget: int) -> dict:
    """Per-x mean/min/max over seeds; a run that used less than the budget keeps its last best."""
    padded = np.array([c + [c[-1]] * (budget - len(c)) if c else [math.nan] * budget for c in curves])
    return {"mean": padded.mean(0).tolist(), "min": padded.min(0).tolist(), "max": padded.max(0).tolist()}


def epochs_to_reach(curve: list[float], target: float) -> int | None:
    for i, value in enumerate(curve, start=1):
        if value >= target - 1e-12:
            return i
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="demo")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=30, help="trial-epochs per run")
    parser.add_argument("--storage", default="/tmp/posetune-bench-search", help="where the searches live")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--quick", action="store_true", help="tiny run: 1 seed, 4 trial-epochs")
    args = parser.parse_args(argv)

    import ray

    from search.cluster import init_ray
    from search.config import load_config
    from search.experiment import experiment_uri
    from search.shards import prepare_shards
    from search.tracking import wandb_env

    overrides = SCALE + (QUICK if args.quick else [])
    seeds, budget = (1, 4) if args.quick else (args.seeds, args.budget)
    base = load_config(args.config, overrides + [f"storage.path={args.storage}"] + args.overrides)
    epochs = base.train.epochs
    init_ray(None, wandb_env(None))
    prepare_shards(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[dict]] = {name: [] for name in STRATEGIES}
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    meta = {"config": args.config, "overrides": overrides + args.overrides, "epochs_per_trial": epochs}
    try:
        for seed in range(seeds):  # seed-major: after each round every strategy has the same seeds
            for name, strategy in STRATEGIES.items():
                asha = strategy["scheduler.type"] == "asha"
                num_samples = max(2, budget // 2) if asha else max(1, budget // epochs)
                config = base.with_params(
                    {
                        **strategy,
                        "search.seed": seed,
                        "search.num_samples": num_samples,
                        "scheduler.max_t": epochs,
                    }
                )
                uri = experiment_uri(base.storage.path, f"eff-{stamp}-{name.replace('+', '-')}-s{seed}")
                run = run_one(config, uri, budget)
                run.update(seed=seed, num_samples=num_samples, experiment=uri)
                runs[name].append(run)
                print(f"{name} seed {seed}: best {run['best_so_far'][-1]:.4f} after {run['trial_epochs']} "
                      f"trial-epochs, {run['trials']} trials, {run['wall_s']:.0f} s", flush=True)  # fmt: skip
            summary = summarize(runs, budget, {**meta, "wall_s": time.perf_counter() - start})
            (out / f"search_efficiency{suffix}.json").write_text(json.dumps(summary, indent=1))
            plot(summary["curves"], budget, seed + 1, out / f"search_efficiency{suffix}.png")
    finally:
        ray.shutdown()
    reach, ratio = summary["tpe_asha_trial_epochs_to_reach_random_final"], summary["ratio_tpe_asha_to_random"]
    print(json.dumps(summary["final_best_mean"]))
    print(
        "TPE+ASHA reaches random search's final best after "
        + (f"{reach} of {budget} trial-epochs (ratio {ratio:.2f})" if reach else "never within the budget")
    )
    return 0


def summarize(runs: dict[str, list[dict]], budget: int, meta: dict) -> dict:
    """Curves over the seeds run so far, final bests, and the TPE + ASHA vs random ratio."""
    curves = {name: curve_stats([r["best_so_far"] for r in rs], budget) for name, rs in runs.items()}
    target = curves["random"]["mean"][-1]
    reach = epochs_to_reach(curves["tpe+asha"]["mean"], target)
    return {
        "method": __doc__.split("Method.")[1].split("\n\n")[0].replace("\n", " ").strip(),
        **meta,
        "budget_trial_epochs": budget,
        "seeds": len(runs["random"]),
        "final_best_mean": {n: c["mean"][-1] for n, c in curves.items()},
        "final_best_per_seed": {n: [r["best_so_far"][-1] for r in rs] for n, rs in runs.items()},
        "trials_started_per_seed": {n: [r["trials"] for r in rs] for n, rs in runs.items()},
        "wall_s_per_seed": {n: [r["wall_s"] for r in rs] for n, rs in runs.items()},
        "random_final_best_mean": target,
        "tpe_asha_trial_epochs_to_reach_random_final": reach,
        "ratio_tpe_asha_to_random": None if reach is None else reach / budget,
        "per_seed_trial_epochs_to_reach": [
            epochs_to_reach(a["best_so_far"], r["best_so_far"][-1])
            for a, r in zip(runs["tpe+asha"], runs["random"], strict=True)
        ],
        "curves": curves,
        "runs": runs,
    }


def plot(curves: dict, budget: int, seeds: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(1, budget + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, c in curves.items():
        (line,) = ax.plot(x, c["mean"], label=name, drawstyle="steps-post")
        ax.fill_between(x, c["min"], c["max"], step="post", alpha=0.15, color=line.get_color())
    ax.set_xlabel("trial-epochs spent")
    ax.set_ylabel(f"best {METRIC} so far")
    ax.set_title(f"Search efficiency on the demo data (mean, band = min-max over {seeds} seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
