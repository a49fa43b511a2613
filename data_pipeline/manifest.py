"""The shards manifest: `shards.json` at the root of an enhancement output, written last by the job.

It records counts, skipped inputs, settings and versions (see `data_pipeline.pipeline`). Its presence
means the output was committed whole; the loader refuses a root without one.
"""

from __future__ import annotations

import json
import posixpath

import pyarrow.fs as pafs

from data_pipeline import storage
from data_pipeline.errors import DataError

SHARDS_MANIFEST = "shards.json"
OLD_SHARDS_MANIFEST = (
    "manifest.json"  # posetune < 0.3 used one name for both manifests; its shards are schema v1
)


def shards_exist(root: str) -> bool:
    """Whether `root` holds a finished enhancement output (its manifest is the last thing written).

    Shards an older posetune wrote are refused here, before anything builds new shards beside them."""
    fs, path = storage.resolve(root)
    if fs.get_file_info(posixpath.join(path, SHARDS_MANIFEST)).type == pafs.FileType.File:
        return True
    _refuse_old_shards(fs, path, root)
    return False


def _refuse_old_shards(fs: pafs.FileSystem, path: str, root: str) -> None:
    if fs.get_file_info(posixpath.join(path, OLD_SHARDS_MANIFEST)).type == pafs.FileType.File:
        raise DataError(
            root, f"shards from an older posetune ({OLD_SHARDS_MANIFEST}); re-run `posetune data enhance`"
        )


def read_shards_manifest(root: str, filesystem: pafs.FileSystem | None = None) -> dict:
    """The enhancement job's manifest; its absence means the output was never committed.

    `filesystem`, when given, holds `root` as a path on it (no URI resolution)."""
    fs, path = storage.resolve(root, filesystem)
    where = posixpath.join(path, SHARDS_MANIFEST)
    try:
        with fs.open_input_stream(where) as f:
            return json.loads(f.read())
    except FileNotFoundError:
        _refuse_old_shards(fs, path, root)
        raise DataError(
            root, f"no {SHARDS_MANIFEST}: not a finished `posetune data enhance` output"
        ) from None
    except json.JSONDecodeError as error:
        raise DataError(where, f"manifest is not valid JSON ({error})") from None


def write_shards_manifest(fs: pafs.FileSystem, root: str, manifest: dict) -> None:
    """Write `manifest` at `root` on `fs` (sorted keys, so two runs with the same inputs diff cleanly)."""
    with fs.open_output_stream(posixpath.join(root, SHARDS_MANIFEST)) as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
