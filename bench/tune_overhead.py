"""Orchestration overhead: one configuration's per-epoch wall time bare (`fit` in this process) vs inside a
Ray Tune trial (the product's trainable: a checkpoint reported every epoch and persisted to storage,
prediction overlays, W&B offline), on the same shards, one after the other.

Bare: the time between successive `report` calls of `fit` (report does nothing; `fit` still writes its
own checkpoint each epoch, as `posetune train` does). Tune: the time between successive results arriving
at the driver. The first epoch is left out of the median (warm-up, and in Tune the trial's start-up);
the end-to-end times (bare: building the datasets + fit; Tune: Tuner.fit, Ray already started) are
reported too. Both use `resources.cpu` torch threads (Tune gives a 1-CPU trial one thread).

    python -m bench.tune_overhead [--quick] [--epochs 6] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ray
import torch
from ray import tune

from models.train import fit
from search.cluster import init_ray
from search.config import load_config
from search.experiment import experiment_uri, write_experiment_manifest
from search.shards import build_train_data, prepare_shards
from search.tracking import resolve_mode, wandb_env
from search.tuner import build_tuner


def bare(config) -> dict:
    """Per-epoch and end-to-end times of `fit` in this process (its report does nothing)."""
    torch.set_num_threads(max(1, int(config.resources.cpu)))
    stamps = []
    start = time.perf_counter()
    data = build_train_data(config)
    stamps.append(time.perf_counter())
    with tempfile.TemporaryDirectory() as workdir:
        fit(config.train_config(), data, lambda m, c: stamps.append(time.perf_counter()), workdir)
    return {
        "epoch_s": [b - a for a, b in zip(stamps, stamps[1:], strict=False)],
        "total_s": stamps[-1] - start,
    }


def in_tune(config, uri: str) -> dict:
    """Per-epoch times as results arrive at the driver, and Tuner.fit's, of the product's trial in Tune."""
    # As `launch` does: the experiment folder (Optuna's journal lives in it) with its manifest, so
    # `posetune search inspect` reads it.
    write_experiment_manifest(uri, uri.rsplit("/", 1)[-1], config)

    class Stamps(tune.Callback):
        def __init__(self):
            self.times, self.iter_s = [], []

        def on_trial_start(self, iteration, trials, trial, **info):
            self.start = time.perf_counter()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.times.append(time.perf_counter())
            self.iter_s.append(float(result["time_this_iter_s"]))

    stamps = Stamps()
    start = time.perf_counter()
    build_tuner(config, uri, callbacks_extra=[stamps]).fit()
    total = time.perf_counter() - start
    times = [stamps.start, *stamps.times]
    return {
        "epoch_s": [b - a for a, b in zip(times, times[1:], strict=False)],
        "time_this_iter_s": stamps.iter_s,
        "total_s": total,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="demo")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--storage", default="/tmp/posetune-bench-overhead")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--quick", action="store_true", help="2 epochs of 2 steps")
    args = parser.parse_args(argv)
    overrides = [
        f"train.epochs={2 if args.quick else args.epochs}",
        "search.num_samples=1",
        "search.evaluate_defaults_first=true",  # the one trial is the config itself, as in the bare run
        "scheduler.type=none",
        "tracking.wandb=offline",
        f"storage.path={args.storage}",
    ]
    if args.quick:
        overrides += ["train.steps_per_epoch=2", "train.max_eval_samples=16"]
    config = load_config(args.config, overrides + args.overrides)
    # The search draws nothing here: its first (and only) trial is the config's own point.
    init_ray(None, wandb_env(resolve_mode(config.tracking)))
    try:
        prepare_shards(config)
        ray.shutdown()  # the bare run gets the machine to itself
        bare_run = bare(config)
        init_ray(None, wandb_env(resolve_mode(config.tracking)))
        tune_run = in_tune(
            config, experiment_uri(config.storage.path, f"overhead-{time.strftime('%Y%m%d-%H%M%S')}")
        )
    finally:
        ray.shutdown()

    def median_after_first(values):
        return statistics.median(values[1:] if len(values) > 1 else values)

    bare_epoch, tune_epoch = median_after_first(bare_run["epoch_s"]), median_after_first(tune_run["epoch_s"])
    summary = {
        "config": args.config,
        "overrides": overrides + args.overrides,
        "epochs": config.train.epochs,
        "threads": max(1, int(config.resources.cpu)),
        "bare_epoch_s_median": bare_epoch,
        "tune_epoch_s_median": tune_epoch,
        "per_epoch_ratio_tune_to_bare": tune_epoch / bare_epoch,
        "bare_total_s": bare_run["total_s"],
        "tune_total_s": tune_run["total_s"],
        "total_ratio_tune_to_bare": tune_run["total_s"] / bare_run["total_s"],
        "bare": bare_run,
        "tune": tune_run,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("tune_overhead_quick.json" if args.quick else "tune_overhead.json")
    path.write_text(json.dumps(summary, indent=1))
    print(
        f"per epoch: bare {bare_epoch:.2f} s, in Tune {tune_epoch:.2f} s (x{tune_epoch / bare_epoch:.3f}); "
        f"end to end: bare {bare_run['total_s']:.1f} s, Tune {tune_run['total_s']:.1f} s; wrote {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
