"""Driver time per reported result, callback by callback (Tune warned `callbacks.on_trial_result took 1 s`).

Runs a small real search (the tiny test network, W&B offline with prediction overlays, ASHA) and times each
callback's `on_trial_result` on the driver by wrapping Tune's CallbackList. Writes the medians and maxima per
callback, and of the whole per-result driver cost, to a JSON file.

    python -m bench.driver_cost [--epochs 6] [--trials 2] [--out bench/results/driver_cost.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import ray
from ray.tune.callback import CallbackList

from bench.common import RESULTS
from bench.tiny import TINY, tiny_config
from search.tuner import launch


def timed_callbacks(durations: dict[str, list[float]]):
    """Patch Tune's CallbackList so every callback's on_trial_result is timed separately."""
    def on_trial_result(self, **info):
        total = time.perf_counter()
        for callback in self._callbacks:
            start = time.perf_counter()
            callback.on_trial_result(**info)
            durations[type(callback).__name__].append(time.perf_counter() - start)
        durations["(all callbacks)"].append(time.perf_counter() - total)

    CallbackList.on_trial_result = on_trial_result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "driver_cost.json"))
    args = parser.parse_args(argv)
    durations: dict[str, list[float]] = defaultdict(list)
    timed_callbacks(durations)
    with tempfile.TemporaryDirectory() as tmp:
        config = tiny_config(
            Path(tmp),
            data={**TINY["data"], "shards": f"{tmp}/shards"},
            train={**TINY["train"], "epochs": args.epochs},
            search={**TINY["search"], "num_samples": args.trials},
            tracking={"wandb": "offline", "project": "posetune-bench", "log_images": True},
        )
        started = time.perf_counter()
        try:
            launch(config, name="driver-cost")
        finally:
            ray.shutdown()
        wall = time.perf_counter() - started

    summary = {
        name: {
            "results": len(values),
            "median_ms": round(1000 * statistics.median(values), 2),
            "max_ms": round(1000 * max(values), 2),
            "total_s": round(sum(values), 3),
        }
        for name, values in sorted(durations.items())
    }
    report = {"epochs": args.epochs, "trials": args.trials, "wall_s": round(wall, 1), "on_trial_result": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
