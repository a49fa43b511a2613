"""Record a tabular search benchmark: full learning curves of a grid over the config's search space.

HPO research compares search strategies on tables of recorded learning curves (NAS-Bench-201, LCBench,
HPO-B): train every configuration of a grid once, then replay any number of searches over the table in
seconds. This trains the grid: `--values` values of each key of `search.space` (the centres of equal parts
of its range, log-spaced for a loguniform key; every value of a choice) x `--seeds` training seeds
(`train.seed`), every trial to `train.epochs` with no early stopping, as the product's own trials
(`search.trainable.run_trial` in a Ray Tune grid), and keeps every epoch's reported metrics.
`bench/search_efficiency.py` replays searches over the table.

    python bench/search_table.py [--config demo] [--values 3] [--seeds 2] [--out bench/results/search_table.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.config import ExperimentConfig, ParamSpec

SEED_KEY = "train.seed"
# What each recorded epoch keeps: the metrics of both validation splits and the training losses.
KEPT_PREFIXES = ("target_val_", "source_val_", "train_")
NOT_KEPT = ("train_images_per_s",)  # a speed, not a metric: it depends on the machine's load
DIGITS = 6


def grid_values(spec: ParamSpec, n: int) -> list[Any]:
    """`n` values of a searched key: the centres of `n` equal parts of its range (in log space for a
    loguniform key), so that mapping any draw to its nearest value splits the range into equal cells;
    every value of a choice; distinct rounded centres of an int range."""
    if spec.type == "choice":
        return list(spec.values)
    centres = [(2 * i + 1) / (2 * n) for i in range(n)]
    if spec.type == "loguniform":
        low, high = math.log(spec.low), math.log(spec.high)
        return [_significant(math.exp(low + c * (high - low))) for c in centres]
    values = [spec.low + c * (spec.high - spec.low) for c in centres]
    if spec.type == "int":
        return sorted({int(round(v)) for v in values})
    return [_significant(v) for v in values]


def _significant(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def unit(spec: ParamSpec, value: Any) -> float:
    """Where `value` sits in its key's range, from 0 to 1 (log scale for loguniform): the distance the
    replay's nearest-grid mapping uses. Choices are not ordered: 0 for every value."""
    if spec.type == "choice":
        return 0.0
    if spec.type == "loguniform":
        return (math.log(value) - math.log(spec.low)) / (math.log(spec.high) - math.log(spec.low))
    return (float(value) - spec.low) / (spec.high - spec.low)


def nearest(table: dict, params: dict[str, Any]) -> dict[str, Any]:
    """The grid point of `table` nearest to `params`, key by key (a choice must match exactly)."""
    point = {}
    for key, values in table["grid"].items():
        spec = ParamSpec(**table["space"][key])
        if spec.type == "choice":
            if params[key] not in values:
                raise KeyError(f"{key}={params[key]!r} is not a recorded value ({values})")
            point[key] = params[key]
        else:
            at = unit(spec, params[key])
            point[key] = min(values, key=lambda v: abs(unit(spec, v) - at))
    return point


def grid_key(point: dict[str, Any]) -> str:
    """One string per grid point, the same for the recorder and the replay."""
    return json.dumps({k: point[k] for k in sorted(point)}, sort_keys=True)


def load_table(path: str | Path) -> dict:
    """A recorded table with an index from (grid point, seed) to its run."""
    table = json.loads(Path(path).read_text())
    table["index"] = {(grid_key(run["params"]), run["seed"]): run for run in table["runs"]}
    return table


def _kept(result: dict[str, Any]) -> dict[str, float]:
    return {
        k: round(float(v), DIGITS)
        for k, v in result.items()
        if k.startswith(KEPT_PREFIXES)
        and k not in NOT_KEPT
        and isinstance(v, int | float)
        and math.isfinite(v)
    }


def record(config: ExperimentConfig, uri: str, *, values: int, seeds: list[int], concurrent: int) -> dict:
    """Train every (grid point, seed) of `config` to its last epoch; the table as plain data."""
    from ray import tune

    from search.trainable import run_trial
    from search.tuner import run_config, with_trial_resources

    grid = {key: grid_values(spec, values) for key, spec in config.search.space.items()}
    param_space = {key: tune.grid_search(v) for key, v in grid.items()}
    param_space[SEED_KEY] = tune.grid_search(seeds)
    # The product's trial, without its search: no searcher, no scheduler, every trial to train.epochs.
    tuner = tune.Tuner(
        with_trial_resources(run_trial, config, experiment=config.to_dict()),
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=concurrent),
        run_config=run_config(
            config,
            uri,
            callbacks=[],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )
    start = time.perf_counter()
    tuner.fit()
    table = tabulate(config, uri, grid, seeds)
    return {**table, "wall_s": round(time.perf_counter() - start, 1), "concurrent_trials": concurrent}


def tabulate(config: ExperimentConfig, uri: str, grid: dict[str, list], seeds: list[int]) -> dict:
    """The table of the recorded grid experiment at `uri` (also to rebuild it from an interrupted one)."""
    from data_pipeline import storage
    from search.tune_results import read_trials

    fs, path = storage.resolve(uri)
    runs = []
    for trial in read_trials(fs, path):
        params = {k: trial.config[k] for k in grid}
        epochs = sorted(trial.results, key=lambda r: int(r["training_iteration"]))
        curves: dict[str, list[float | None]] = {}
        for i, result in enumerate(epochs):
            for key, value in _kept(result).items():
                curves.setdefault(key, [None] * len(epochs))[i] = value
        runs.append(
            {
                "params": params,
                "seed": int(trial.config[SEED_KEY]),
                "status": trial.status,
                "epochs": len(epochs),
                "curves": curves,
            }
        )
    runs.sort(key=lambda r: (grid_key(r["params"]), r["seed"]))
    return {
        "what": "full learning curves of a grid over the search space; every epoch's validation metrics",
        "config": config.to_dict(),
        "metric": config.search.metric,
        "mode": config.search.mode,
        "epochs": config.train.epochs,
        "space": config.to_dict()["search"]["space"],
        "grid": grid,
        "seeds": seeds,
        "experiment": uri,
        "load_average": list(os.getloadavg()),
        "runs": runs,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="demo")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--values", type=int, default=3, help="values per searched key (default 3)")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per grid point (default 2)")
    parser.add_argument("--concurrent", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--storage", default="/tmp/posetune-bench-table", help="where the grid's trials live")
    parser.add_argument("--out", default="bench/results/search_table.json")
    parser.add_argument(
        "--from-experiment",
        metavar="URI",
        help="tabulate an existing (e.g. interrupted) recording instead of training",
    )
    args = parser.parse_args(argv)

    import ray

    from search.cluster import init_ray
    from search.config import load_config
    from search.experiment import experiment_uri, write_experiment_manifest
    from search.shards import check_splits, prepare_shards
    from search.tracking import wandb_env
    from search.warm_start import prepare_warm_start

    config = load_config(
        args.config, [f"storage.path={args.storage}", "tracking.wandb=none", *args.overrides]
    )
    if not config.search.space:
        raise SystemExit(f"{args.config}: search.space is empty: nothing to tabulate")
    points = math.prod(len(grid_values(s, args.values)) for s in config.search.space.values())
    print(f"recording {points} grid points x {args.seeds} seeds x {config.train.epochs} epochs", flush=True)
    seeds = list(range(args.seeds))
    if args.from_experiment:
        grid = {key: grid_values(spec, args.values) for key, spec in config.search.space.items()}
        table = tabulate(config, args.from_experiment, grid, seeds)
    else:
        init_ray(None, wandb_env(None))
        try:
            prepare_shards(config)
            check_splits(config)
            name = f"table-{time.strftime('%Y%m%d-%H%M%S')}"
            uri = experiment_uri(config.storage.path, name)
            write_experiment_manifest(uri, name, config)
            config = prepare_warm_start(config, uri)  # the demo's trials start from one pretrained model
            table = record(config, uri, values=args.values, seeds=seeds, concurrent=args.concurrent)
        finally:
            ray.shutdown()
    table["command"] = "python bench/search_table.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, separators=(",", ":")))
    done = sum(r["status"] == "TERMINATED" for r in table["runs"])
    print(f"{done} of {len(table['runs'])} runs finished -> {out}")
    return 0 if done == len(table["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
