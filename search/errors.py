"""Errors the CLI shows as one clear line instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this module for `--help`; pydantic loads only with a config
    from pydantic import ValidationError


class ConfigError(ValueError):
    """A bad experiment config: names the file and the key at fault."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None):
        self.path, self.key = path, key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class SearchInterrupted(RuntimeError):
    """The search stopped before every trial finished; the message says how to resume it."""


class SearchFailed(RuntimeError):
    """The search ran and no trial finished; the message sums up the trials' errors."""


def from_validation(
    error: ValidationError,
    *,
    path: str | None = None,
    prefix: str = "",
    spell: Callable[[str], str] = lambda key: key,
) -> ConfigError:
    """The first problem pydantic found, as a ConfigError naming the dotted key (`prefix.` + its location;
    `spell` renames it, e.g. to a command-line flag) and saying what is wrong in pydantic's words."""
    problems = error.errors(include_url=False, include_input=False)
    first = problems[0]
    parts = [prefix] if prefix else []
    parts += [str(part) for part in first["loc"] if not isinstance(part, int)]
    message = first["msg"].removeprefix("Value error, ")
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ConfigError(message, path=path, key=spell(".".join(parts)) if parts else None)
