"""A trial's training phase against the bare step rate of the same model, batch and threads.

The trial side is `models.fit` on the demo config's datasets exactly as the trainable builds them
(`search.trainable.build_train_data`: shards read through the node-local mapped copy, augmentation with
occlusion, the adversarial target batch), timed by fit's own `train_images_per_s` (training phase only;
validation is reported separately from `epoch_time_s`). The bare side is the same `setup_run` (model, optimiser,
schedule) running `models.train.step_losses` + backward + step on a few batches collated in advance: no loader,
no bookkeeping. Bare and fit runs alternate (bare, fit, bare, fit, ...) so a busy shared machine hits both
alike; medians are compared. One torch thread, as a trial with `resources.cpu: 1` has.

    python -m bench.train_phase [--epochs 4] [--steps 20] [--rounds 2] [--workers 0,1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.common import RESULTS
from bench.demo_shards import demo_shards
from models.train import fit, setup_run, step_losses
from search.config import load_config
from search.shards import build_train_data


def bare_rate(train_config, data, steps: int, workdir: str) -> float:
    """Images/s of `steps` optimiser steps on pre-collated batches (source and, if used, target)."""
    run = setup_run(train_config, data, workdir)
    source = list(itertools.islice(iter(run.source), 4))
    target = list(itertools.islice(iter(run.target), 4)) if run.target is not None else None
    run.model.train()
    started = None
    for k in range(steps + 2):
        if k == 2:  # two warm-up steps
            started = time.perf_counter()
        images = target[k % len(target)]["image"] if target else None
        loss, _, _ = step_losses(run, source[k % len(source)], images, 0.5)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        loss.item()
    return run.batch_size * steps / (time.perf_counter() - started)


def fit_rates(train_config, data, workdir: str) -> dict:
    reports = []
    fit(train_config, data, lambda m, d: reports.append(m), workdir, keep_checkpoints=1)
    later = reports[1:] or reports  # the first epoch pays imports, worker start and allocator warm-up
    train_s = [
        train_config.batch_size * train_config.steps_per_epoch / m["train_images_per_s"] for m in later
    ]
    return {
        "train_images_per_s": [m["train_images_per_s"] for m in reports],
        "median_train_images_per_s": statistics.median(m["train_images_per_s"] for m in later),
        "median_validation_s": statistics.median(
            m["epoch_time_s"] - t for m, t in zip(later, train_s, strict=True)
        ),
        "median_train_phase_s": statistics.median(train_s),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="demo")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch (bare runs time the same)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating bare/fit rounds per worker count")
    parser.add_argument("--workers", default="0,1", help="train.num_workers values to compare")
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", default=str(RESULTS / "train_phase.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    work = Path(args.work or tempfile.mkdtemp(prefix="posetune-trainphase-"))
    config = load_config(args.config)
    shards = demo_shards(work, args.clips, config.data.size, config.data.brightness)
    config = config.with_params({"data.shards": str(shards), "data.demo": False})
    report: dict = {
        "config": args.config,
        "model": config.model.to_dict(),
        "batch": config.train.batch_size,
        "adversarial": config.train.adv_weight > 0,
        "steps_per_epoch": args.steps,
        "epochs": args.epochs,
        "torch_threads": torch.get_num_threads(),
        "loadavg_start": os.getloadavg(),
        "runs": [],
    }
    for workers in [int(w) for w in args.workers.split(",")]:
        params = {
            "train.epochs": args.epochs,
            "train.steps_per_epoch": args.steps,
            "train.num_workers": workers,
        }
        trial = config.with_params(params)
        data = build_train_data(trial)
        bare, fits = [], []
        for r in range(args.rounds):
            bare.append(bare_rate(trial.train_config(), data, args.steps, str(work / f"bare-{workers}-{r}")))
            fits.append(fit_rates(trial.train_config(), data, str(work / f"fit-{workers}-{r}")))
            print(f"workers {workers} round {r}: bare {bare[-1]:.1f} img/s, "
                  f"fit {fits[-1]['median_train_images_per_s']:.1f} img/s", flush=True)  # fmt: skip
        fit_median = statistics.median(f["median_train_images_per_s"] for f in fits)
        report["runs"].append(
            {
                "workers": workers,
                "bare_images_per_s": bare,
                "fit": fits,
                "ratio_train_phase_over_bare": fit_median / statistics.median(bare),
                "median_validation_s": statistics.median(f["median_validation_s"] for f in fits),
                "median_train_phase_s": statistics.median(f["median_train_phase_s"] for f in fits),
            }
        )
    report["loadavg"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    for run in report["runs"]:
        print(f"workers {run['workers']}: training phase / bare = {run['ratio_train_phase_over_bare']:.2f}; "
              f"validation {run['median_validation_s']:.2f} s per epoch")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
