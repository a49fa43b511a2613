"""Where data lives: one rule turning any path or URI into a pyarrow filesystem and a path on it.

Accepted everywhere posetune reads or writes (shards, experiments, exported files' provenance):
a local path (relative to the working directory, or starting with `~`), `file:///abs/path`,
`s3://bucket/prefix` (query options such as `?endpoint_override=localhost:9000&scheme=http` are kept
and passed to pyarrow's S3 filesystem) and `gs://bucket/prefix`.

Local paths are made absolute on the driver (`absolute`) before they travel to Ray workers, whose
working directory is not the user's (Tune moves each trial into its own folder).
"""

from __future__ import annotations

import os

import pyarrow.fs as pafs


def is_uri(location: str) -> bool:
    """Whether `location` names a scheme (`s3://`, `gs://`, `file://`) rather than a plain local path."""
    return "://" in str(location)


def is_local(location: str) -> bool:
    """Whether `location` is on this machine's filesystem (a plain path or a `file://` URI)."""
    return not is_uri(location) or str(location).startswith("file://")


def absolute(location: str) -> str:
    """A plain local path made absolute (`~` expanded, relative to the working directory); URIs unchanged."""
    location = str(location)
    if not location or is_uri(location):
        return location
    return os.path.abspath(os.path.expanduser(location))


def resolve(location: str, filesystem: pafs.FileSystem | None = None) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem holding `location` and the path of `location` on it (no trailing slash).

    With `filesystem` given, `location` is already a path on it and is only tidied."""
    location = str(location)
    if filesystem is not None:
        return filesystem, (location.rstrip("/") or "/")
    if not is_uri(location):
        return pafs.LocalFileSystem(), absolute(location)
    fs, path = pafs.FileSystem.from_uri(location)
    return fs, (path.rstrip("/") or "/")


def join(base: str, *parts: str) -> str:
    """`parts` appended to the path of `base`, keeping its scheme and any `?query` of options."""
    base = str(base)
    head, sep, query = base.partition("?")
    if not is_uri(head):
        head = os.path.expanduser(head)
    joined = "/".join([head.rstrip("/"), *(part.strip("/") for part in parts)])
    return f"{joined}{sep}{query}"


def cache_dir(*parts: str) -> str:
    """A folder in posetune's local cache (`$POSETUNE_CACHE`, default `~/.cache/posetune`); not created."""
    return os.path.join(os.path.expanduser(os.environ.get("POSETUNE_CACHE", "~/.cache/posetune")), *parts)
