"""The options several commands share, spelled and explained the same way everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

# The shipped configs by name, listed from the folder (importing search.config would load torch).
SHIPPED = ", ".join(sorted(p.stem for p in (Path(__file__).parents[1] / "configs").glob("*.yaml")))


def add_config(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    """`--config`: an experiment YAML file, or the name of a shipped one."""
    where = f"default: {default}" if default else "required"
    parser.add_argument(
        "--config",
        default=default,
        required=default is None,
        help=f"experiment YAML file, or a shipped config by name ({SHIPPED}); {where}",
    )


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """`--set KEY=VALUE` (repeatable) into `args.overrides`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted config key, the value parsed as YAML (repeatable), e.g. "
        "--set train.epochs=4 --set train.lr=1e-3 --set data.targets=[lsp:/data/lsp]",
    )


def add_address(parser: argparse.ArgumentParser) -> None:
    """`--address`: the Ray cluster to join."""
    parser.add_argument(
        "--address",
        help="Ray cluster to join (e.g. auto, ray://head:10001, 10.0.0.5:6379); default: $RAY_ADDRESS, "
        "else a new local Ray on this machine",
    )
