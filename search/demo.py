"""The embedded default end to end: demo data, Ray Data enhancement, a search, inspect, export."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from search.config import load_config
from search.space import default_point


def _same_point(params: dict, point: dict) -> bool:
    """Whether a trial's searched values are `point` (floats compared after their round trip via JSON)."""
    return all(
        math.isclose(params.get(k), v) if isinstance(v, float) else params.get(k) == v
        for k, v in point.items()
    )


def run_demo(
    out: str, *, config: str = "demo", overrides: list[str] | None = None, address: str | None = None
) -> dict:
    """Run every stage into `out` and return a summary with where the time went."""
    from search.data import prepare_shards
    from search.export import export_best
    from search.inspect import format_table, inspect
    from search.tracking import resolve_mode, wandb_env
    from search.tuner import init_ray, launch, raise_if_interrupted

    out_dir = Path(out).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    overrides = [f"data.shards={out_dir / 'shards'}", f"storage.path={out_dir / 'runs'}", *(overrides or [])]
    experiment = load_config(config, overrides)
    timings: dict[str, float] = {}
    total = time.perf_counter()

    start = time.perf_counter()
    init_ray(address, wandb_env(resolve_mode(experiment.tracking)))
    timings["ray_start_s"] = time.perf_counter() - start

    start = time.perf_counter()
    prepare_shards(experiment)  # demo data generation + Ray Data enhancement
    timings["data_s"] = time.perf_counter() - start

    outcome = launch(experiment, name=f"demo-{time.strftime('%Y%m%d-%H%M%S')}", address=address)
    timings["search_s"] = outcome.timings.get("search_s", 0.0)

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
