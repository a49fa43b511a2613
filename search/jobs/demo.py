"""`posetune demo`: every stage on the embedded demo data into one folder (the search prepares the data),
then the best trial's summary beside the config's own values, its predictions drawn over validation images,
the exported best model, and where the time went (demo-summary.json)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from models import metric_names as names
from models.overlay import render_checkpoint
from search.config import load_config
from search.experiment import read_experiment_manifest
from search.export import best_checkpoint, export_best
from search.results.trials import LABEL_FREE_TABLE, format_table, inspect
from search.shards import build_train_data
from search.space import default_point
from search.tuner import launch, raise_if_failed, raise_if_interrupted

OVERLAY_SAMPLES = 8


def run_demo(
    out: str, *, config: str = "demo", overrides: list[str] | None = None, address: str | None = None
) -> dict:
    """Run every stage into `out` (the search prepares the data) and return a summary with where the
    time went; also written to `out/demo-summary.json`."""
    total = time.perf_counter()
    out_dir = Path(out).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # The demo's own folders, unless an override names others.
    values = {"data.shards": str(out_dir / "shards"), "storage.path": str(out_dir / "runs")}
    given = {o.partition("=")[0].strip() for o in overrides or []}
    kept = {k: v for k, v in values.items() if k not in given and k.split(".")[0] not in given}  # dotted or section
    experiment = load_config(config, overrides, kept)

    # Ray start, demo data generation + Ray Data enhancement, then the search.
    outcome = launch(experiment, name=f"demo-{time.strftime('%Y%m%d-%H%M%S')}", address=address)
    raise_if_failed(outcome)  # nothing to inspect or export
    timings = dict(outcome.timings)

    summary: dict = {"experiment": outcome.experiment_uri, "interrupted": outcome.interrupted}
    if not outcome.interrupted:
        summary.update(_read_back(outcome.experiment_uri, experiment, out_dir, timings))
        print_summary(summary, experiment)
    timings["total_s"] = time.perf_counter() - total
    summary["timings"] = timings
    (out_dir / "demo-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print("\ntime: " + ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in timings.items()))
    if not outcome.interrupted:
        print(
            f"best model: {summary['best_model']}  (try: posetune predict {summary['best_model']} IMAGE --out preds)"
        )
        print("its predictions beside the truth: " + ", ".join(summary["overlays"]))
    raise_if_interrupted(outcome)
    return summary


def _read_back(uri: str, experiment, out_dir: Path, timings: dict) -> dict:
    """A finished demo search read back: the table printed, the best model exported and drawn, the best
    trial, the warm start's scores and the config's own trial (adds `inspect_export_s` to `timings`)."""
    start = time.perf_counter()
    result = inspect(uri)
    print(format_table(result))
    written = export_best(uri, out=str(out_dir / "best.pt"), overwrite=True)  # its own
    timings["inspect_export_s"] = time.perf_counter() - start
    summary: dict = {"best_model": written[0], "overlays": write_best_overlays(uri, experiment, out_dir)}
    report = result.to_json()
    summary["best"] = report["best"]
    summary["warm_start"] = _warm_start_summary(uri)
    # The search evaluates the config's own values first: that trial is the baseline to beat.
    default = default_point(experiment)
    summary["default_trial"] = next((t for t in report["trials"] if _same_point(t["params"], default)), None)
    return summary


def _warm_start_summary(uri: str) -> dict | None:
    """The pretrained model's validation PDJ@0.2 from the experiment manifest (None without one)."""
    record = read_experiment_manifest(uri).get("warm_start") or {}
    metrics = record.get("metrics")
    if not metrics:
        return None
    return {
        "checkpoint": record["checkpoint"],
        "seconds": record.get("seconds"),
        "source_val": metrics[names.SOURCE_VAL + names.PDJ20],
        "target_val": metrics.get(names.TARGET_VAL + names.PDJ20, float("nan")),  # nan: no target labels
    }


def _same_point(params: dict, point: dict) -> bool:
    """Whether a trial's searched values are `point` (floats compared after their round trip via JSON)."""
    return all(
        math.isclose(params.get(k), v) if isinstance(v, float) else params.get(k) == v
        for k, v in point.items()
    )


def write_best_overlays(uri: str, experiment, out_dir: Path) -> list[str]:
    """The best checkpoint's predictions beside the truth on target-val and source-val images, as PNGs."""
    _, folder, _ = best_checkpoint(uri)
    data = build_train_data(experiment)
    written = []
    for prefix, dataset in ((names.TARGET_VAL, data.target_val), (names.SOURCE_VAL, data.source_val)):
        path = out_dir / f"best-{prefix.rstrip('_').replace('_', '-')}.png"
        render_checkpoint(folder, dataset, path, n=OVERLAY_SAMPLES)
        written.append(str(path))
    return written


def print_summary(summary: dict, experiment) -> None:
    """The best trial's PDJ@0.2 on both validation splits, its values, and the config's own trial."""
    best, default = summary.get("best"), summary.get("default_trial")
    if not best:
        return
    metric = experiment.search.metric
    pdj = {p: best["metrics"].get(p + names.PDJ20, float("nan")) for p in names.VAL_PREFIXES}
    print(
        f"\nbest trial {best['trial_id']} (epoch {best['best_epoch']} of {best['epochs']} trained): "
        f"source-val PDJ@0.2 {pdj[names.SOURCE_VAL]:.3f}, target-val PDJ@0.2 {pdj[names.TARGET_VAL]:.3f}"
        + "".join(f", {k} {v:.3g}" if isinstance(v, float) else f", {k} {v}" for k, v in best["params"].items())
    )
    label_free = [f"{title} {best['metrics'][k]:.3f}" for k, title in LABEL_FREE_TABLE.items() if k in best["metrics"]]
    if label_free:
        print("its label-free scores (no target label read): " + ", ".join(label_free))
    if default:
        print(
            f"{metric}: best trial {best['metrics'][metric]:.3f}, the config's own values "
            f"{default['metrics'].get(metric, float('nan')):.3f} ({default['epochs']} epochs)"
        )
    if summary.get("warm_start"):
        ws = summary["warm_start"]
        print(
            f"every trial started from the source-only model pretrained once: source-val PDJ@0.2 "
            f"{ws['source_val']:.3f}, target-val PDJ@0.2 {ws['target_val']:.3f}"
        )
