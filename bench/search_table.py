"""Record a tabular search benchmark: full learning curves of a grid over the config's search space.

HPO research compares search strategies on tables of recorded learning curves (NAS-Bench-201, LCBench,
HPO-B): train every configuration of a grid once, then replay any number of searches over the table in
seconds. This trains the grid: `--values` values of each key of `search.space` (the centres of equal parts
of its range, log-spaced for a loguniform key; every value of a choice) x `--seeds` training seeds
(`train.seed`), every trial to `train.epochs` with no early stopping, as the product's own trials
(`search.trainable.run_trial` in a Ray Tune grid), and keeps every epoch's reported metrics.
`python -m bench.search_efficiency` replays searches over the table.

    python -m bench.search_table [--config demo] [--values 3] [--seeds 2] [--out bench/results/search_table.json]

`--sobol N` records N configurations drawn by a scrambled Sobol sequence over the space instead of a grid
(`scipy.stats.qmc.Sobol(d, scramble=True, seed=0)`, unit coordinates mapped to each key by `from_unit`),
`--repeats R` of them (the first R) with a second training seed to measure noise; every epoch's checkpoint
is also scored on the target test split (`test_target_*`, as the study's `evaluate_on_test`) for the
label-free selection benchmark (`python -m bench.selection`). Each finished run is appended to a JSONL file (a header
line, then a line per run), so a rerun of the same command skips the runs already recorded:

    python -m bench.search_table --config demo --sobol 100 --repeats 20 --set train.epochs=6 \
        --out bench/results/search_table_demo.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import types
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import ray
from ray import tune

from bench.common import command
from bench.tables import (
    DIGITS,
    grid_key,
    grid_values,
    read_jsonl_table,
    sobol_configs,
    sobol_order,
)
from data_pipeline import storage
from models import metric_names as names
from search.cluster import init_ray
from search.config import ExperimentConfig, load_config
from search.experiment import experiment_uri, write_experiment_manifest
from search.results.tune_files import read_trials
from search.shards import check_splits, prepare_shards
from search.study.run import evaluate_on_test
from search.tracking import wandb_env
from search.trainable import run_trial, trial_config
from search.tuner import run_config, with_trial_resources
from search.warm_start import prepare_warm_start

SEED_KEY = "train.seed"
# What each recorded epoch keeps: the metrics of both validation splits, the label-free scores, the
# training losses and (Sobol tables) the epoch's checkpoint on the target test split.
KEPT_PREFIXES = (
    names.TARGET_VAL,
    names.SOURCE_VAL,
    "train_",
    names.DEV,
    names.DOMAIN_PROBE_ACC,
    names.DOMAIN_ACC,
    names.TEST_TARGET,
)
TABLE_POINT = "table_point"  # the Sobol recorder's one Tune parameter: {"index", "seed", "params"}
NOT_KEPT = ("train_images_per_s",)  # a speed, not a metric: it depends on the machine's load


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


def run_table_trial(params: dict[str, Any], experiment: dict[str, Any]) -> None:
    """The product's trial (`search.trainable.run_trial`) on one Sobol point, each epoch's report also
    carrying that epoch's checkpoint scored on the target test split (`test_target_*` scalars, as the
    study's `evaluate_on_test`): its `tune.report` is wrapped for this trial's process only."""
    point = params[TABLE_POINT]
    trial_params = {**point["params"], SEED_KEY: int(point["seed"])}
    config = trial_config(trial_params, experiment)
    brightness = trial_params.get("data.brightness", config.data.brightness)

    def report(metrics: dict[str, float], checkpoint: tune.Checkpoint) -> None:
        with checkpoint.as_directory() as folder:
            test = evaluate_on_test(folder, config, brightness, domains=("target",))
        scalars = {k: float(v) for k, v in test.items() if np.ndim(v) == 0}
        tune.report({**metrics, **scalars}, checkpoint=checkpoint)

    shim = types.SimpleNamespace(
        report=report, get_checkpoint=tune.get_checkpoint, Checkpoint=tune.Checkpoint
    )
    with mock.patch("search.trainable.tune", shim):
        run_trial(trial_params, experiment)


class AppendRuns(tune.Callback):
    """A Tune callback appending each finished trial's run (every epoch's kept metrics) to a JSONL file."""

    def __init__(self, out: Path, configs: list[dict]):
        self.out, self.configs, self.results = out, configs, {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.results.setdefault(trial.trial_id, []).append(_kept(result))

    def on_trial_complete(self, iteration, trials, trial, **info):
        point = trial.config[TABLE_POINT]
        epochs = self.results.pop(trial.trial_id, [])
        curves: dict[str, list] = {}
        for i, kept in enumerate(epochs):
            for key, value in kept.items():
                curves.setdefault(key, [None] * len(epochs))[i] = value
        run = {
            "index": point["index"],
            "unit": self.configs[point["index"]]["unit"],
            "params": point["params"],
            "seed": point["seed"],
            "status": "TERMINATED",
            "epochs": len(epochs),
            "curves": curves,
        }
        with self.out.open("a") as f:
            f.write(json.dumps(run, separators=(",", ":")) + "\n")
        print(f"recorded configuration {point['index']} seed {point['seed']}", flush=True)


def record_sobol(config: ExperimentConfig, args, overrides: list[str]) -> int:
    """Record (or continue recording) the Sobol table of `args.out`; 0 once every run is in it."""
    out = Path(args.out)
    space = config.search.space
    configs = sobol_configs(space, args.sobol, seed=0)
    seeds = (config.train.seed, config.train.seed + 1)
    header = None
    if out.exists() and out.read_text().strip():
        table = read_jsonl_table(out)
        header = {k: v for k, v in table.items() if k != "runs"}
        if header["sobol"] != args.sobol or header["space"] != config.to_dict()["search"]["space"]:
            raise SystemExit(f"{out}: recorded with another --sobol or search.space; use another --out")
        done = {(r["index"], r["seed"]) for r in table["runs"]}
    else:
        done = set()
    todo = [(i, s) for i, s in sobol_order(args.sobol, args.repeats, seeds) if (i, s) not in done]
    print(f"{len(done)} runs recorded, {len(todo)} to record x {config.train.epochs} epochs", flush=True)
    if not todo:
        return 0
    if header and header.get("warm_start"):  # a continued recording adapts the same pretrained model
        config = load_config(
            args.config,
            [*overrides, f"warm_start.checkpoint={header['warm_start']}", "warm_start.pretrain_epochs=0"],
        )
    init_ray(None, wandb_env(None))
    try:
        prepare_shards(config)
        check_splits(config, test=True)
        name = f"sobol-{time.strftime('%Y%m%d-%H%M%S')}"
        uri = experiment_uri(config.storage.path, name)
        write_experiment_manifest(uri, name, config)
        config = prepare_warm_start(config, uri)
        if header is None:
            header = {
                "kind": "header",
                "what": "learning curves of scrambled-Sobol configurations over the search space: every "
                "epoch's reported metrics and the epoch's checkpoint on the target test split",
                "config": config.to_dict(),
                "metric": config.search.metric,
                "mode": config.search.mode,
                "epochs": config.train.epochs,
                "space": config.to_dict()["search"]["space"],
                "keys": list(space),
                "sobol": args.sobol,
                "sobol_seed": 0,
                "repeats": args.repeats,
                "seeds": list(seeds),
                "warm_start": config.train.init_from,
                "concurrent_trials": args.concurrent,
                "command": command("bench.search_table", args.argv),
            }
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(header, separators=(",", ":")) + "\n")
        points = [{"index": i, "seed": s, "params": configs[i]["params"]} for i, s in todo]
        tuner = tune.Tuner(
            with_trial_resources(run_table_trial, config, experiment=config.to_dict()),
            param_space={TABLE_POINT: tune.grid_search(points)},
            tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=args.concurrent),
            run_config=run_config(
                config,
                uri,
                callbacks=[AppendRuns(out, configs)],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
        tuner.fit()
    finally:
        ray.shutdown()
    table = read_jsonl_table(out)
    left = args.sobol + min(args.repeats, args.sobol) - len(table["runs"])
    print(f"{len(table['runs'])} runs in {out}; {left} left", flush=True)
    return 0 if left == 0 else 1


def tabulate(config: ExperimentConfig, uri: str, grid: dict[str, list], seeds: list[int]) -> dict:
    """The table of the recorded grid experiment at `uri` (also to rebuild it from an interrupted one)."""
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
    parser.add_argument("--sobol", type=int, metavar="N", help="N Sobol configurations instead of a grid")
    parser.add_argument(
        "--repeats", type=int, default=20, help="Sobol configurations run with a second seed (default 20)"
    )
    parser.add_argument("--storage", default="/tmp/posetune-bench-table", help="where the grid's trials live")
    parser.add_argument("--out", default="bench/results/search_table.json")
    parser.add_argument(
        "--from-experiment",
        metavar="URI",
        help="tabulate an existing (e.g. interrupted) recording instead of training",
    )
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    overrides = [f"storage.path={args.storage}", "tracking.wandb=none", *args.overrides]
    config = load_config(args.config, overrides)
    if not config.search.space:
        raise SystemExit(f"{args.config}: search.space is empty: nothing to tabulate")
    if args.sobol:
        if args.out == parser.get_default("out"):
            raise SystemExit(
                "--sobol writes a JSONL table: give --out (e.g. bench/results/search_table_demo.jsonl)"
            )
        return record_sobol(config, args, overrides)
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
    table["command"] = command("bench.search_table", argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, separators=(",", ":")))
    done = sum(r["status"] == "TERMINATED" for r in table["runs"])
    print(f"{done} of {len(table['runs'])} runs finished -> {out}")
    return 0 if done == len(table["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
