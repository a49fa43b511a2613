"""What `search.reuse_actors` saves: the same small search with a new process per trial and with a finished
trial's process reused, alternated in one Ray session (pairs, so the ratio holds while the machine drifts).

Times `Tuner.fit` (`launch`'s `search_s`: Ray already started, shards already made) and counts the trial
processes (Tune's `pid` per trial). The trials are the tiny test network (a few hundred ms of training
each), so what differs is a trial's start: a Ray worker process, importing torch and posetune, and on a GPU
the CUDA context. Writes `trial_reuse.json`.

    python -m bench.trial_reuse [--pairs 3] [--trials 8] [--out bench/results]
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

from bench.common import RESULTS, command
from bench.tiny import TINY, tiny_config
from search.cluster import init_ray
from search.experiment import Experiment
from search.results.tune_files import read_trials
from search.shards import prepare_shards
from search.tuner import launch


def one_search(root: Path, name: str, trials: int, reuse: bool) -> dict:
    """One search of `trials` one-epoch trials, two at a time: its Tuner.fit seconds and process count."""
    config = tiny_config(
        root,
        data={**TINY["data"], "shards": str(root / "shards")},
        train={**TINY["train"], "epochs": 1},
        search={**TINY["search"], "num_samples": trials, "reuse_actors": reuse},
        scheduler={"type": "none"},
        tracking={"wandb": "none"},
    )
    outcome = launch(config, name=name)
    experiment = Experiment(outcome.experiment_uri)
    pids = {t.results[0]["pid"] for t in read_trials(experiment.filesystem, experiment.path) if t.results}
    return {"search_s": outcome.timings["search_s"], "finished": outcome.finished, "processes": len(pids)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="searches with each setting, alternated")
    parser.add_argument("--trials", type=int, default=8, help="trials per search (two at a time)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    runs: dict[str, list[dict]] = {"new_process": [], "reused": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        init_ray(None, {})
        try:
            prepare_shards(tiny_config(root, data={**TINY["data"], "shards": str(root / "shards")}))
            for pair in range(args.pairs):
                for arm, reuse in (("new_process", False), ("reused", True)):
                    runs[arm].append(one_search(root, f"{arm}-{pair}", args.trials, reuse))
                    print(arm, runs[arm][-1], flush=True)
        finally:
            ray.shutdown()
    ratios = [a["search_s"] / b["search_s"] for a, b in zip(runs["new_process"], runs["reused"], strict=True)]
    median = {arm: statistics.median(r["search_s"] for r in rs) for arm, rs in runs.items()}
    report = {
        "command": command("bench.trial_reuse", argv),
        "date": time.strftime("%Y-%m-%d"),
        "trials_per_search": args.trials,
        "runs": runs,
        "median_search_s": median,
        "ratio_new_process_to_reused": {"per_pair": ratios, "median": statistics.median(ratios)},
        "saved_per_trial_s": (median["new_process"] - median["reused"]) / args.trials,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trial_reuse.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("median_search_s", "ratio_new_process_to_reused")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
