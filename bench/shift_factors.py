"""Which domain-shift factor makes the classic gap: source-test minus target-test PDJ@0.2 of the study's
classic models with each factor of the demo target alone (the others at 0), with none, and with all.

    posetune study --out bench/results/study ...            # first: trains the classic models (and the arms)
    python -m bench.shift_factors --study bench/results/study [--out bench/results/shift_factors]

The models are the study's classic trials (one per seed) at the epoch the study selected (best on the
study's target validation split); between rows only the target test set changes. Each row's target is
rendered from the study's demo seed with the study's number of target images, so the same people in the
same poses appear in every row (data_pipeline.shift), and is enhanced with the study's settings and the
classic arm's brightness step ("none"). Only the target is generated (a one-frame source clip keeps
write_demo's format), into `<shards root>/shift-factors/`, once per row. The source test numbers come
from the study's own shards. The gap is paired by seed (same model on both splits) with a Student's t
95 % interval (search.study.stats). Writes shift_factors.json and shift_factors.md into --out.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import time
from dataclasses import replace
from pathlib import Path

from bench.common import RESULTS
from data_pipeline import storage
from data_pipeline.demo import TARGET_PER_CLIP, demo_exists, write_demo
from data_pipeline.loader import ShardDataset
from data_pipeline.manifest import shards_exist
from data_pipeline.pipeline import run_enhancement
from data_pipeline.shift import SHIFT_FACTORS, DomainShift
from models import metric_names as names
from models.evaluation import evaluate
from search.config import ExperimentConfig
from search.experiment import experiment_config
from search.results.tune_files import kept_checkpoints, read_trials
from search.shards import prepare_shards, shard_dir
from search.study.report import BASELINE
from search.study.stats import mean_std, paired_difference

CLASSIC_BRIGHTNESS = "none"  # the classic arm's images: no brightness step
KEY = names.PDJ20  # PDJ@0.2 over the shared joints


def variants(study_shift: DomainShift) -> dict[str, DomainShift]:
    """The rows: no factor; each factor alone at the strength the study's target has; all of them (the
    study's own target)."""
    alone = {f: DomainShift.only(f, getattr(study_shift, f)) for f in SHIFT_FACTORS}
    return {"none": DomainShift.none(), **alone, "all": study_shift}


def classic_checkpoints(uri: str) -> dict[int, str]:
    """seed -> the checkpoint folder of the study's classic trial at its selected epoch (`best_epoch`)."""
    fs, path = storage.resolve(uri)
    if not storage.is_local(uri):
        raise SystemExit(f"{uri}: this benchmark reads the study's checkpoints from a local folder")
    found = {}
    for trial in read_trials(fs, path):
        if trial.config.get("arm") != BASELINE or not trial.results:
            continue
        best = int(trial.results[-1].get("best_epoch", 0))
        for folder, row in kept_checkpoints(fs, trial):
            if int(row.get("epoch", -1)) == best:
                found[int(trial.config["train.seed"])] = folder
    if not found:
        raise SystemExit(f"{uri}: no finished classic trial with its selected checkpoint kept")
    return found


def target_images(config: ExperimentConfig) -> int:
    """How many target images the study's demo set has (data.demo_target_images, else 10 per clip)."""
    clips = config.data.demo_clips or inspect.signature(write_demo).parameters["clips"].default
    return config.data.demo_target_images or TARGET_PER_CLIP * clips


def target_shards(config: ExperimentConfig, shift: DomainShift) -> str:
    """The shards of the study's target rendered with `shift` (made once): target images only."""
    root = storage.join(storage.absolute(config.shards_root), "shift-factors")
    tag = f"{shift.tag() or 'default'}-seed{config.data.demo_seed}-targets{target_images(config)}"
    data, shards = storage.join(root, f"demo-{tag}"), storage.join(root, f"raw-{tag}")
    if not shards_exist(shards):
        if not demo_exists(data, shift):
            write_demo(data, clips=1, frames=(1, 1), seed=config.data.demo_seed, target_images=target_images(config),
                       shift=shift, overwrite=True)  # fmt: skip
        run_enhancement([], [f"lsp:{data}/lsp"], shards, config.data.enhance_settings(CLASSIC_BRIGHTNESS))
    return shards


def test_scores(
    root: str, config: ExperimentConfig, domain: str, checkpoints: dict[int, str]
) -> dict[int, float]:
    """seed -> PDJ@0.2 of that seed's model on `domain`'s test split of the shards at `root`."""
    dataset = ShardDataset(root, domain, "test", config.model.input_size, None, seed=0)
    train_config = replace(config.train_config(), max_eval_samples=None)  # every test sample
    return {seed: float(evaluate(path, dataset, train_config)[KEY]) for seed, path in checkpoints.items()}


def run(study_out: str, out: str, rows_wanted: list[str] | None = None) -> dict:
    """Evaluate the study's classic models on each row's target (`rows_wanted`: a subset of the rows, by
    name) and write shift_factors.json / .md into `out`."""
    summary = json.loads((Path(study_out) / "study.json").read_text())
    uri = summary["experiment_uri"]
    config = experiment_config(uri)
    if not config.data.demo:
        raise SystemExit(f"{uri}: the factors are knobs of the procedural demo target (data.demo: true)")
    checkpoints = classic_checkpoints(uri)
    started = time.perf_counter()
    base = config.with_params({"data.brightness": CLASSIC_BRIGHTNESS})
    prepare_shards(base)  # the study made them; made again only if they were deleted
    source = test_scores(shard_dir(base), base, "source", checkpoints)
    rows = []
    every = variants(config.data.shift)
    unknown = set(rows_wanted or ()) - set(every)
    if unknown:
        raise SystemExit(f"unknown row(s) {sorted(unknown)}; the rows are {list(every)}")
    for name, shift in every.items():
        if rows_wanted and name not in rows_wanted:
            continue
        t0 = time.perf_counter()
        target = test_scores(target_shards(config, shift), config, "target", checkpoints)
        gap = paired_difference(source, target)
        rows.append(
            {
                "target": name,
                "shift": shift.as_dict(),
                "target_pdj20": target,
                "gap_mean": gap.mean,
                "gap_low": gap.low,
                "gap_high": gap.high,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(f"{name:12s} target PDJ@0.2 {mean_std(list(target.values()))[0]:.3f}  gap {gap.mean:+.3f}")
    result = {
        "study": str(study_out),
        "experiment_uri": uri,
        "seeds": sorted(checkpoints),
        "source_pdj20": source,
        "rows": rows,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "shift_factors.json").write_text(json.dumps(result, indent=1))
    (out_dir / "shift_factors.md").write_text(markdown(result) + "\n")
    return result


def _pts(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value * 100:.1f}"


def markdown(result: dict) -> str:
    source_mean, source_std = mean_std(list(result["source_pdj20"].values()))
    lines = [
        "| target factors | target test PDJ@0.2 | gap: source − target [95 % CI] |",
        "|---|---|---|",
    ]
    for row in result["rows"]:
        mean, std = mean_std(list(row["target_pdj20"].values()))
        label = {"none": "none (target rendered like the source)", "all": "all (the study's target)"}.get(
            row["target"], f"{row['target']} alone"
        )
        gap = f"{_pts(row['gap_mean'])} [{_pts(row['gap_low'])}, {_pts(row['gap_high'])}]"
        lines.append(f"| {label} | {_pts(mean)} ± {_pts(std)} | {gap} |")
    n = len(result["seeds"])
    lines += [
        "",
        f"PDJ@0.2 over the shared joints, %, mean ± std over the {n} classic models of the study "
        f"({result['experiment_uri']}); their source test PDJ@0.2 is {_pts(source_mean)} ± {_pts(source_std)}. "
        "The gap is paired by seed (the same model on both splits), Student's t 95 % CI.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", required=True, help="a `posetune study --out` folder (holds study.json)")
    parser.add_argument("--out", default=str(RESULTS / "shift_factors"))
    parser.add_argument("--rows", help="comma-separated subset of rows: none, a factor's name, all")
    args = parser.parse_args(argv)
    run(args.study, args.out, args.rows.split(",") if args.rows else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
