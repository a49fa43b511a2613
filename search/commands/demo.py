"""`posetune demo`: the embedded default end to end on one machine, no GPU, cluster or account."""

from __future__ import annotations

import argparse


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
    demo.add_argument("--config", default="demo", help="config to run (default: the shipped demo.yaml)")
    demo.add_argument("--address", help="Ray cluster to join (default: a new local Ray)")
    demo.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key",
    )
    demo.set_defaults(func=_demo)


def _demo(args) -> int:
    from search.demo import run_demo

    summary = run_demo(args.out, config=args.config, overrides=args.overrides, address=args.address)
    return 0 if summary["interrupted"] is False else 3
