"""Errors the CLI shows as one clear line instead of a traceback."""

from __future__ import annotations


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
