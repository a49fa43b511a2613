"""Where the enhancement job writes, and how its output is committed: refuse an output that overlaps an
input or that `--overwrite` may not replace, write into a temporary sibling, then swap it in by one
rename (local, NFS) or, on object stores, copy it over and seal it by writing `shards.json` last."""

from __future__ import annotations

import json
import posixpath
import uuid

import pyarrow.dataset as pads
import pyarrow.fs as pafs

from data_pipeline import storage
from data_pipeline.enhance_settings import InputSpec
from data_pipeline.errors import DataError
from data_pipeline.manifest import SHARDS_MANIFEST, write_shards_manifest
from data_pipeline.outputs import check_output


def path_exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _is_shards(fs: pafs.FileSystem, path: str) -> bool:
    """Whether `path` holds shards this job wrote (its manifest, with a schema version)."""
    try:
        with fs.open_input_stream(posixpath.join(path, SHARDS_MANIFEST)) as f:
            return "schema_version" in json.loads(f.readall())
    except (OSError, ValueError, TypeError):
        return False


def _check_output(
    fs: pafs.FileSystem, out: str, final: str, inputs: list[InputSpec], overwrite: bool
) -> None:
    """The output rule (`data_pipeline.outputs`): a folder that is, holds or lies inside no input, and
    replaces only shards this job wrote (their manifest), with `--overwrite`."""
    check_output(
        out, folder=True, inputs=[p for spec in inputs for p in spec.paths], overwrite=overwrite,
        owned=lambda fs, path: _is_shards(fs, path),
    )  # fmt: skip



def commit(fs: pafs.FileSystem, tmp: str, final: str, manifest: dict, overwrite: bool) -> None:
    """Put the finished output under its final name, the new output in place before the old is deleted;
    the manifest is the last thing to appear."""
    empty = path_exists(fs, final) and not fs.get_file_info(pafs.FileSelector(final))
    if path_exists(fs, final) and not empty and not (overwrite and _is_shards(fs, final)):
        raise DataError(final, "output appeared while the job ran; not overwriting it")
    if isinstance(fs, pafs.LocalFileSystem):
        write_shards_manifest(fs, tmp, manifest)
        old = f"{tmp}.old"
        if path_exists(fs, final):
            fs.move(final, old)
        fs.move(tmp, final)  # one rename: the whole output appears at once
        if path_exists(fs, old):
            fs.delete_dir(old)
        return
    # Object stores cannot rename a folder: unseal the old output, copy the new files over it, drop the
    # old files the new output lacks, then seal it with the new manifest.
    if path_exists(fs, final):
        fs.delete_file(posixpath.join(final, SHARDS_MANIFEST))
    pafs.copy_files(tmp, final, source_filesystem=fs, destination_filesystem=fs)
    new = {posixpath.relpath(i.path, tmp) for i in fs.get_file_info(pafs.FileSelector(tmp, recursive=True))}
    for info in fs.get_file_info(pafs.FileSelector(final, recursive=True)):
        if info.type == pafs.FileType.File and posixpath.relpath(info.path, final) not in new:
            fs.delete_file(info.path)
    write_shards_manifest(fs, final, manifest)
    fs.delete_dir(tmp)


def count_rows(fs: pafs.FileSystem, path: str) -> dict[str, int]:
    if not path_exists(fs, path):
        return {}
    table = pads.dataset(path, format="parquet", filesystem=fs).to_table(columns=["split"])
    counts = table.column("split").value_counts().to_pylist()
    return {c["values"]: int(c["counts"]) for c in sorted(counts, key=lambda c: c["values"])}


def output_location(out: str, inputs: list[InputSpec], overwrite: bool) -> tuple[pafs.FileSystem, str, str]:
    """(filesystem, final path, temporary sibling the job writes into before the commit), once the output
    is known not to clash with an input or with something `--overwrite` may not replace."""
    fs, final = storage.resolve(out)
    parent, name = posixpath.split(final)
    if not name:
        raise DataError(out, "give a directory (or a prefix inside a bucket) to write into")
    _check_output(fs, out, final, inputs, overwrite)
    return fs, final, posixpath.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
