"""One node-local, memory-mapped copy of a domain/split of the shards, shared by every trial on the node.

Each trial used to load its split into private memory (4-7 GB per trial at SURREAL's size, times the
trials on a node). Instead the first reader on a node writes the split, filtered and sorted, as an Arrow
IPC file under the cache folder (a file lock makes concurrent trials write it once, an atomic rename makes
a half-written file invisible); every reader then memory-maps it, so the page cache holds one copy of the
bytes whatever the number of trials, and forked DataLoader workers share the same pages.

The folder is `$POSETUNE_SHARD_CACHE`, else `<tmp>/posetune-shards-<uid>`: point it at a local disk with
room for the splits a node trains on. A file is named by a hash of the shards' location, manifest and file
listing, so rewritten shards get a new file; old files are not pruned.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

CACHE_ENV = "POSETUNE_SHARD_CACHE"
BINARY_COLUMNS = ("image", "mask")

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """`$POSETUNE_SHARD_CACHE`, else a per-user folder in the system's temp dir."""
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / f"posetune-shards-{os.getuid()}")


def cache_key(*parts) -> str:
    """A file name for the split that `parts` (location, manifest, file listing, split) identify."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def mapped_table(
    read: Callable[[], pa.Table], key: str, cache_dir: str | os.PathLike
) -> tuple[pa.Table, bool]:
    """(the table `read()` returns, memory-mapped from `<cache_dir>/<key>.arrow`; whether this call wrote it).

    The first caller on a node runs `read()` and writes the file; concurrent callers wait on the lock and
    map the finished file. Every column is one chunk (image/mask bytes as large_binary, no 2 GiB limit)."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"{key}.arrow"
    wrote = False
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
            if not path.is_file():
                _write(read(), path)
                wrote = True
    source = pa.memory_map(str(path))  # kept open by the buffers that reference it
    return pa.ipc.open_file(source).read_all(), wrote


def _write(table: pa.Table, path: Path) -> None:
    schema = table.schema
    for name in BINARY_COLUMNS:
        if name in schema.names:
            schema = schema.set(schema.get_field_index(name), pa.field(name, pa.large_binary()))
    table = table.cast(schema).combine_chunks()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote the node-local shard copy %s (%.1f MiB)", path, path.stat().st_size / 2**20)
