"""`posetune data …`: make the demo data, look at it, and enhance datasets into Parquet shards."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="demo data, previews and the Ray Data enhancement job")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    del data_sub  # subcommands are added by the data issues (demo, show, enhance)
