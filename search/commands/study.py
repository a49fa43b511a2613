"""`posetune study`: the study's comparison (classic / enhanced / adversarial / both / best of a search)
with equal budgets, N seeds each, as Ray Tune trials; tables and plots of target and source test metrics."""

from __future__ import annotations

import argparse

from search.commands.arguments import add_address, add_config, add_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    study = subparsers.add_parser(
        "study",
        help="compare classic, enhanced and adversarial training over seeds (tables + plots)",
        description=(
            "Trains each arm (classic: raw images; enhanced: brightness centring + occlusion; adversarial: "
            "raw images + GRL domain classifier; enhanced+adversarial; target-bn: target images mixed into the "
            "pose network's BatchNorm statistics, no domain loss; adversarial-frozen-bn: the GRL with target "
            "images kept out of those statistics; with --experiment, the search's best configuration) for N seeds with the same budget, as Ray Tune trials. Each trial keeps the epoch "
            "best on target validation and evaluates it on the target and source test splits. Writes "
            "table.md, table.csv, runs.csv, bars.png and per_joint.png into --out and prints the target table."
        ),
    )
    add_config(study, default="demo")
    study.add_argument("--seeds", type=int, default=3, help="seeds per arm (default: 3)")
    study.add_argument("--experiment", help="a search's folder/URI: adds its best configuration as a row")
    study.add_argument(
        "--arms", help="comma-separated subset of arms (default: all: classic, enhanced, adversarial, "
        "enhanced+adversarial, target-bn, adversarial-frozen-bn, and best-of-search with --experiment)",
    )  # fmt: skip
    study.add_argument("--out", help="output folder (default: the study's experiment folder)")
    study.add_argument("--name", help="experiment name under storage.path (default: <config>-study-<time>)")
    study.add_argument(
        "--resume", action="store_true",
        help="continue the study --name (same options): finished trials stay, the others run again",
    )  # fmt: skip
    add_address(study)
    add_overrides(study)
    study.set_defaults(func=_study)


def _study(args) -> int:
    # Imported here, not at the top, so that `posetune --help` does not load torch and Ray.
    from search.config import load_config
    from search.study import format_markdown, run_study, summary

    config = load_config(args.config, args.overrides)
    result = run_study(
        config,
        seeds=args.seeds,
        experiment=args.experiment,
        out=args.out,
        address=args.address,
        name=args.name,
        only=[a.strip() for a in args.arms.split(",")] if args.arms else None,
        resume=args.resume,
    )
    print()
    print(format_markdown(summary(result, "target"), "Target domain, test split (mean ± std over seeds)"))
    print(f"\n{len(result.runs)} trials in {result.wall_s:.0f} s; wrote " + ", ".join(result.files))
    return 0
