"""`posetune demo`: the embedded default end to end on one machine, no GPU, cluster or account."""

from __future__ import annotations

import argparse

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
    from search.jobs.demo import run_demo

    summary = run_demo(args.out, config=args.config, overrides=args.overrides, address=args.address)
    return 0 if summary["interrupted"] is False else 3
