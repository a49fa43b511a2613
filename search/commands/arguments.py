"""The options several commands share, spelled and explained the same way everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from search.errors import ConfigError

# The shipped configs by name, listed from the folder (importing search.config would load pyarrow and OpenCV).
SHIPPED = ", ".join(sorted(p.stem for p in (Path(__file__).parents[1] / "configs").glob("*.yaml")))


def add_config(parser: argparse.ArgumentParser, *, default: str | None = None, was_positional=False) -> None:
    """`--config`: an experiment YAML file, or the name of a shipped one.

    `was_positional` keeps the old spelling (`search launch demo`) parseable, so `config_of` can say
    how to write it now instead of argparse's bare "unrecognized arguments"."""
    where = f"default: {default}" if default else "required"
    parser.add_argument(
        "--config",
        default=default,
        required=default is None and not was_positional,
        help=f"experiment YAML file, or a shipped config by name ({SHIPPED}); {where}",
    )
    if was_positional:
        parser.add_argument("old_config", nargs="?", help=argparse.SUPPRESS)


def config_of(args: argparse.Namespace, command: str) -> str:
    """The `--config` a command was given; the old positional spelling is refused with the new one."""
    old = getattr(args, "old_config", None)
    if old is not None:
        raise ConfigError(f"the config is an option now: {command} --config {old}", key=command)
    if args.config is None:
        raise ConfigError(f"needs --config FILE (or a shipped config by name: {SHIPPED})", key=command)
    return args.config


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
