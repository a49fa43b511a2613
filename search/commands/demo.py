"""`posetune demo`: the embedded default end to end on one machine, no GPU, cluster or account."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from search.commands.arguments import add_address, add_config, add_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="procedural data -> Ray Data enhancement -> a small search -> inspect -> exported best model",
        description=(
            "Runs the whole product on the embedded demo data with search/configs/demo.yaml: generates "
            "synthetic people in SURREAL's format and real-looking targets in LSP's format, enhances them "
            "into Parquet shards with Ray Data, pretrains one source-only hourglass, then searches 6 trials "
            "that adapt it with Ray Tune + Optuna + ASHA (W&B offline unless an API key is set), prints the "
            "table and exports the best model. About 4 minutes on an idle 2-core machine."
        ),
    )
    demo.add_argument("--out", default="posetune-demo", help="output folder (default: ./posetune-demo)")
    add_config(demo, default="demo")
    add_address(demo)
    add_overrides(demo)
    demo.set_defaults(func=_demo)


def _demo(args) -> int:
    summary = run_demo(args.out, config=args.config, overrides=args.overrides, address=args.address)
    return 0 if summary["interrupted"] is False else 3


def _warm_start_summary(uri: str) -> dict | None:
    """The pretrained model's validation PDJ@0.2 from the experiment manifest (None without one)."""
    from models import metric_names as names
    from search.experiment import read_experiment_manifest

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


OVERLAY_SAMPLES = 8


def write_best_overlays(uri: str, experiment, out_dir: Path) -> list[str]:
    """The best checkpoint's predictions beside the truth on target-val and source-val images, as PNGs."""
    from models import metric_names as names
    from models.overlay import render_checkpoint
    from search.export import best_checkpoint
    from search.shards import build_train_data

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
    from models import metric_names as names
    from search.results import LABEL_FREE_TABLE

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


def run_demo(
    out: str, *, config: str = "demo", overrides: list[str] | None = None, address: str | None = None
) -> dict:
    """Run every stage into `out` (the search prepares the data) and return a summary with where the
    time went; also written to `out/demo-summary.json`."""
    # Imported here, not at the top, so that `posetune --help` does not load torch and Ray.
    from search.config import load_config
    from search.export import export_best
    from search.results import format_table, inspect
    from search.space import default_point
    from search.tuner import launch, raise_if_failed, raise_if_interrupted

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
        start = time.perf_counter()
        result = inspect(outcome.experiment_uri)
        print(format_table(result))
        written = export_best(outcome.experiment_uri, out=str(out_dir / "best.pt"), overwrite=True)  # its own
        timings["inspect_export_s"] = time.perf_counter() - start
        summary["best_model"] = written[0]
        summary["overlays"] = write_best_overlays(outcome.experiment_uri, experiment, out_dir)
        report = result.to_json()
        summary["best"] = report["best"]
        summary["warm_start"] = _warm_start_summary(outcome.experiment_uri)
        # The search evaluates the config's own values first: that trial is the baseline to beat.
        default = default_point(experiment)
        summary["default_trial"] = next(
            (t for t in report["trials"] if _same_point(t["params"], default)),
            None,
        )
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
