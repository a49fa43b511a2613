"""`posetune train`: one configuration end to end, without Ray Tune.

Takes the same experiment config as `posetune search launch` (model, train, augment, data; the search
sections are ignored) and makes the shards first if they don't exist (the demo data included). Writes into
--out: config.yaml (resolved), checkpoints/epoch_XXXX/, metrics.jsonl, metrics.csv and predictions.png (the
last checkpoint's predictions, red, and the truth, green, over target-val images).
"""

from __future__ import annotations

import argparse

from search.commands.arguments import add_config, add_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train one configuration (no search): checkpoints, metrics.jsonl/csv, a predictions PNG",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(parser)
    add_overrides(parser)
    parser.add_argument(
        "--data", help="shards: a `posetune data enhance` output, or a root (sets data.shards)"
    )
    parser.add_argument("--out", help="output directory (default: runs/train-<time>)")
    parser.add_argument("--resume", help="a checkpoint directory of this run to continue from")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from search.jobs.train import train_run

    progress = not args.no_progress
    train_run(args.config, args.overrides, data=args.data, out=args.out, resume=args.resume, progress=progress)
    return 0
