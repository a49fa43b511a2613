"""The `posetune` command line: a thin layer of argparse over the library API."""

from __future__ import annotations

import argparse
import importlib
import sys

from data_pipeline.errors import DataError
from search.errors import ConfigError, SearchFailed, SearchInterrupted

# Each module adds its subcommands to the parser; the order is the order of `posetune --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "search.commands.demo",
    "search.commands.data",
    "search.commands.train",
    "search.commands.search",
    "search.commands.predict",
    "search.commands.study",
)


# Documented in the README ("Using it", exit codes): 0 done, 1 the search ran and no trial finished, 2 bad input
# (refused before anything ran), 3 interrupted (resume it), 130 Ctrl-C outside a search.
EXIT_CODES = {SearchFailed: 1, DataError: 2, ConfigError: 2, SearchInterrupted: 3}

EXAMPLES = """\
Every command that runs an experiment config takes it the same way: posetune <command> --config FILE
(or a shipped config by name: demo, surreal_lsp), with --set KEY=VALUE to override any key.

examples:
  posetune demo                                                  # everything, on the demo data
  posetune data demo --out data && posetune data show data --out grid.png
  posetune data enhance --source surreal:data/surreal --target lsp:data/lsp --out shards
  posetune train --config demo --data shards --out runs/one      # one configuration, no Tune
  posetune search launch --config demo --name first --set search.num_samples=16
  posetune search inspect ~/posetune-runs/first                  # table, best trial, plots
  posetune search export ~/posetune-runs/first --out best.pt
  posetune predict best.pt photo.jpg --out preds
  posetune study --config demo --out study                       # 5 seeds per arm, effects with 95 % CIs

Each command has its own --help. Bad input is one line, `posetune: error: <file or key>: <problem>`,
exit code 2; a search in which no trial finished exits 1; an interrupted one exits 3 and says how
to resume it.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posetune",
        description=(
            "Hyperparameter search for stacked-hourglass pose networks trained on synthetic people "
            "(SURREAL) and evaluated on real photos (LSP, COCO, MPII)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` and run the chosen command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, ConfigError, SearchFailed, SearchInterrupted) as error:
        print(f"posetune: error: {error}", file=sys.stderr)
        return EXIT_CODES[type(error)]
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
