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
            "into Parquet shards with Ray Data, searches about 8 hourglass trials with Ray Tune + Optuna + "
            "ASHA (W&B offline unless an API key is set), prints the table and exports the best model."
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


def _same_point(params: dict, point: dict) -> bool:
    """Whether a trial's searched values are `point` (floats compared after their round trip via JSON)."""
    return all(
        math.isclose(params.get(k), v) if isinstance(v, float) else params.get(k) == v
        for k, v in point.items()
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
    overrides = [f"data.shards={out_dir / 'shards'}", f"storage.path={out_dir / 'runs'}", *(overrides or [])]
    experiment = load_config(config, overrides)

    # Ray start, demo data generation + Ray Data enhancement, then the search.
    outcome = launch(experiment, name=f"demo-{time.strftime('%Y%m%d-%H%M%S')}", address=address)
    raise_if_failed(outcome)  # nothing to inspect or export
    timings = dict(outcome.timings)

    summary: dict = {"experiment": outcome.experiment_uri, "interrupted": outcome.interrupted}
    if not outcome.interrupted:
        start = time.perf_counter()
        result = inspect(outcome.experiment_uri)
        print(format_table(result))
        written = export_best(outcome.experiment_uri, out=str(out_dir / "best.pt"))
        timings["inspect_export_s"] = time.perf_counter() - start
        summary["best_model"] = written[0]
        report = result.to_json()
        summary["best"] = report["best"]
        # The search evaluates the config's own values first: that trial is the baseline to beat.
        default = default_point(experiment)
        summary["default_trial"] = next(
            (t for t in report["trials"] if _same_point(t["params"], default)),
            None,
        )
        if summary["default_trial"] and summary["best"]:
            metric = experiment.search.metric
            print(
                f"{metric}: best trial {summary['best']['metrics'][metric]:.4f}, "
                f"the config's own values {summary['default_trial']['metrics'].get(metric, float('nan')):.4f}"
            )
    timings["total_s"] = time.perf_counter() - total
    summary["timings"] = timings
    (out_dir / "demo-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print("\ntime: " + ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in timings.items()))
    if not outcome.interrupted:
        print(
            f"best model: {summary['best_model']}  (try: posetune predict {summary['best_model']} IMAGE --out preds)"
        )
    raise_if_interrupted(outcome)
    return summary
