"""`posetune study`: the study's comparison (classic against each lever, the BN arms, best of a search) with
equal budgets, N seeds each, as Ray Tune trials; tables of each arm's effect with a 95 % CI and a verdict."""

from __future__ import annotations

import argparse

from search.commands.arguments import add_address, add_config, add_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    study = subparsers.add_parser(
        "study",
        help="compare classic with each lever over seeds: effects with 95 %% CIs and verdicts (tables + plots)",
        description=(
            "Trains each arm for N seeds with the same budget, as Ray Tune trials: classic (raw images, no "
            "occlusion, no adversary); brightness (the study's mean shift, eq. 1-2); brightness-reinhard (Lab "
            "colour statistics transfer, Reinhard et al. 2001); occlusion; adversarial (GRL "
            "domain classifier); target-bn (target images mixed into the pose network's BatchNorm statistics, "
            "no domain loss); adversarial-frozen-bn (the GRL with target images kept out of those statistics); "
            "on request enhanced (brightness + occlusion) and enhanced+adversarial; with --experiment, the "
            "search's best configuration. Each trial keeps the epoch best on target validation and evaluates "
            "it on the target and source test splits. Each arm is compared with classic seed by seed (95 % "
            "t-interval, verdict helps / hurts / no detectable effect). Writes table.md, table.csv, "
            "effects.csv, runs.csv, study.json, effects.png and per_joint.png into --out and prints the "
            "effects table."
        ),
    )
    add_config(study, default="study_demo")
    study.add_argument("--seeds", type=int, help="seeds per arm (default: 5)")
    study.add_argument("--experiment", help="a search's folder/URI: adds its best configuration as a row")
    study.add_argument(
        "--arms", help="comma-separated arms (default: classic, brightness, brightness-reinhard, occlusion, "
        "adversarial, and best-of-search with --experiment; also target-bn, adversarial-frozen-bn, enhanced, "
        "enhanced+adversarial); classic, the baseline, always runs",
    )  # fmt: skip
    study.add_argument("--out", help="output folder (default: the study's experiment folder)")
    study.add_argument("--name", help="experiment name under storage.path (default: <config>-study-<time>)")
    study.add_argument(
        "--resume", action="store_true",
        help="continue the study --name (same options): finished trials stay, the others run again",
    )  # fmt: skip
    study.add_argument(
        "--label-free-metric", metavar="NAME",
        help="the label-free score of the second selection protocol (default: target_val_entropy, the least regret on the demo table): the tables show "
        "each arm's target-test score with epochs chosen by labelled target-val and by it, side by side",
    )  # fmt: skip
    add_address(study)
    add_overrides(study)
    study.set_defaults(func=_study)


def _study(args) -> int:
    from search.jobs.study import study_run

    study_run(args.config, args.overrides, seeds=args.seeds, experiment=args.experiment, out=args.out,
              address=args.address, name=args.name, arms=args.arms, resume=args.resume,
              label_free_metric=args.label_free_metric)  # fmt: skip
    return 0
