"""What the label-free selection scores (models.label_free) add to each validation epoch, on the demo config.

`models.train.validate` on the demo config's network and validation splits (demo shards read through the
trial's own loader, `train.max_eval_samples` = 128 images of each split, 96 px, one torch thread as a
trial with `resources.cpu: 1`), timed with the label-free scores and without them: "without" switches off
exactly what they add (`SplitCollector.add` a no-op, no cross-split scores), so the rest is the code as it
was. The two alternate call by call in one process (a busy shared machine hits both alike); medians and
minima are compared. One training epoch is timed too, to say what share of an epoch the difference is.

    python -m bench.label_free_cost [--pairs 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.common import RESULTS
from bench.demo_shards import demo_shards
from models import label_free
from models.train import setup_run, train_epoch, validate
from search.config import load_config
from search.shards import build_train_data


class Without:
    """The label-free scores switched off for the duration (the validation exactly as before them)."""

    def __enter__(self):
        self.saved = label_free.SplitCollector.add, label_free.cross_split_scores
        label_free.SplitCollector.add = lambda *args, **kwargs: None
        label_free.cross_split_scores = lambda *args, **kwargs: {}

    def __exit__(self, *exc):
        label_free.SplitCollector.add, label_free.cross_split_scores = self.saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8, help="(without, with) validate call pairs")
    parser.add_argument("--out", default=str(RESULTS / "label_free_cost.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config("demo")
    with tempfile.TemporaryDirectory(prefix="posetune-lf-cost-") as tmp:
        shards = demo_shards(Path(tmp), clips=config.data.demo_clips, size=config.data.size)
        config = load_config("demo", [f"data.shards={shards}"])
        data = build_train_data(config)
        run = setup_run(config.train_config(), data, str(Path(tmp) / "run"))
        validate(run)  # warm-up: loaders, caches
        times: dict[str, list[float]] = {"without": [], "with": []}
        keys = {}
        for _ in range(args.pairs):
            for name in ("without", "with"):
                start = time.perf_counter()
                if name == "without":
                    with Without():
                        metrics = validate(run)
                else:
                    metrics = validate(run)
                times[name].append(time.perf_counter() - start)
                keys[name] = sorted(metrics)
        start = time.perf_counter()
        train_epoch(run, 0, progress=False)
        epoch = time.perf_counter() - start
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    report = {
        "what": "models.train.validate on the demo config (128 images per validation split, 96 px, CPU, "
        "1 torch thread) with and without the label-free scores, alternating call by call",
        "validate_s": times,
        "median_s": med,
        "min_s": low,
        "ratio_per_pair_median": statistics.median(
            a / b for a, b in zip(times["with"], times["without"], strict=True)
        ),  # the load changes between pairs, less within one: the steadiest figure
        "ratio_median": med["with"] / med["without"],
        "ratio_min": low["with"] / low["without"],
        "train_epoch_s": epoch,
        "extra_share_of_an_epoch_median": (med["with"] - med["without"]) / (epoch + med["without"]),
        "added_keys": sorted(set(keys["with"]) - set(keys["without"])),
    }
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "validate_s"}, indent=2))


if __name__ == "__main__":
    main()
