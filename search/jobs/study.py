"""`posetune study`: run the study's comparison of an experiment config and print its two tables (each
arm's effect against classic, and the two epoch-selection protocols side by side)."""

from __future__ import annotations

from search.config import load_config
from search.study.report import LABEL_FREE_SELECTION, format_effects, format_protocols
from search.study.run import DEFAULT_SEEDS, run_study


def study_run(
    config_name: str, overrides: list[str], *, seeds: int | None = None, experiment: str | None = None,
    out: str | None = None, address: str | None = None, name: str | None = None, arms: str | None = None,
    resume: bool = False, label_free_metric: str | None = None,
):  # fmt: skip
    """The study of `config_name` (with `--set` overrides): `seeds` per arm (default DEFAULT_SEEDS), `arms`
    comma-separated (default the study's own), the label-free protocol scored by `label_free_metric`
    (default LABEL_FREE_SELECTION); the other keywords are run_study's. Prints the tables, returns the result."""
    config = load_config(config_name, overrides)
    result = run_study(
        config,
        seeds=DEFAULT_SEEDS if seeds is None else seeds,
        experiment=experiment,
        out=out,
        address=address,
        name=name,
        only=[a.strip() for a in arms.split(",")] if arms else None,
        resume=resume,
        label_free=label_free_metric or LABEL_FREE_SELECTION,
    )
    print()
    print("Target test PDJ@0.2 (%) per arm, and each arm − classic paired by seed [95 % CI]:")
    print(format_effects(result))
    print("\nTarget test PDJ@0.2 (%) with epochs chosen by labelled target-val and without target labels:")
    print(format_protocols(result))
    print(f"\n{len(result.runs)} trials in {result.wall_s:.0f} s; wrote " + ", ".join(result.files))
    return result
