"""One rule for everything posetune writes; every command checks its outputs with it before it loads any
model or data.

- A file where a folder is needed, a folder where a file is needed, or a path under a file: refused.
- An output never is, holds or lies inside an input (the images, shards, experiment folder it reads).
- Something already there is replaced only with `--overwrite` (`overwrite`), and only when posetune wrote
  it: each kind of output says how it knows (`owned`: the model file's format, the shards' manifest, the
  demo data's marker, or `MARKER`, the file posetune puts into folders that have no manifest of their own).
  An empty folder holds nothing to replace.
- The new output is written beside the old one and swapped in before the old is deleted
  (`replacing_file`, `replacing_folder`); a failure removes what was half written.

Refusals are `DataError(path, problem)`: the CLI's one line `posetune: error: <path>: <problem>`, exit 2.
Local paths and URIs alike (`data_pipeline.storage`): on object storage there is no "under a file" and no
input overlap to check, but the rest holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow.fs as pafs

from data_pipeline import storage
from data_pipeline.errors import DataError

MARKER = "posetune-output.json"  # in an output folder with no manifest of its own (predict's, train's)

# Whether posetune wrote what is at a path (on its filesystem): each kind of output knows its own manifest.
Owned = Callable[[pafs.FileSystem, str], bool]


def check_output(
    location: str | os.PathLike,
    *,
    folder: bool,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
    owned: Owned | None = None,
    flag: str = "--out",
    again: str = "pass --overwrite to replace it",
) -> None:
    """Refuse `location` as an output (a folder if `folder`, else a file) unless posetune may write it there.

    `inputs` are the paths the command reads; `owned` says whether an existing output there is posetune's
    own (None: nothing already there may be replaced); `again` says how to write over one of posetune's."""
    fs, path = storage.resolve(str(location))
    found = check_kind(location, folder=folder, flag=flag)
    check_not_input(location, inputs)
    if found == pafs.FileType.NotFound or (folder and _empty(fs, path)):
        return
    if owned is None or not owned(fs, path):
        again_elsewhere = f", choose another {flag}" if flag else ""
        raise DataError(location, f"exists and was not written by posetune: refusing to replace it{again_elsewhere}")
    if not overwrite:
        raise DataError(location, f"already exists; {again}")


def check_kind(location: str | os.PathLike, *, folder: bool, flag: str = "--out") -> pafs.FileType:
    """Refuse a file where a folder is needed (`folder`), a folder where a file is, and a path under a file;
    returns what is at `location` now."""
    fs, path = storage.resolve(str(location))
    found = fs.get_file_info(path).type
    named = f" ({flag} names a folder)" if flag else ""
    if folder and found == pafs.FileType.File:
        raise DataError(location, f"is a file, where a folder is needed{named}")
    if not folder and found == pafs.FileType.Directory:
        raise DataError(location, f"is a folder, where a file is needed{named.replace('folder', 'file')}")
    if found == pafs.FileType.NotFound and storage.is_local(str(location)):
        parent = Path(path).parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise DataError(location, f"lies under {parent}, which is a file, not a folder")
    return found


def check_not_input(location: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output that is, holds or lies inside one of `inputs` (local paths; symlinks resolved)."""
    if not storage.is_local(str(location)):
        return
    target = os.path.realpath(storage.resolve(str(location))[1])
    for entry in inputs:
        if not storage.is_local(str(entry)):
            continue
        source = os.path.realpath(storage.resolve(str(entry))[1])
        if target == source:
            raise DataError(location, f"is the input {entry}: an output never replaces an input")
        if os.path.commonpath([target, source]) == target:
            raise DataError(location, f"holds the input {entry}: an output never replaces an input")
        if os.path.commonpath([target, source]) == source and os.path.isdir(source):
            raise DataError(location, f"lies inside the input {entry}: an output never goes into an input")


def _empty(fs: pafs.FileSystem, path: str) -> bool:
    return not fs.get_file_info(pafs.FileSelector(path, recursive=False))


# ----------------------------------------------------------------------------------------- ownership


def has_marker(fs: pafs.FileSystem, path: str) -> bool:
    """Whether the folder at `path` carries `MARKER` (see `mark`)."""
    return fs.get_file_info(posixpath.join(path, MARKER)).type == pafs.FileType.File


def mark(folder: str | os.PathLike, command: str) -> None:
    """Put `MARKER` into a local output folder: what `--overwrite` checks before replacing it."""
    Path(folder, MARKER).write_text(json.dumps({"written_by": "posetune", "command": command}) + "\n")


def written_by_posetune(fs: pafs.FileSystem, path: str) -> bool:
    """Whether the JSON file at `path` says `"written_by": "posetune"` (a small manifest of its own)."""
    try:
        with fs.open_input_stream(path) as stream:
            return json.loads(stream.read(1 << 20)).get("written_by") == "posetune"
    except (OSError, ValueError, AttributeError):
        return False


# ----------------------------------------------------------------------------------------- replacing


@contextlib.contextmanager
def replacing_file(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of the local file `path` to write; on success it replaces `path` in one rename
    (the new file in place before the old is gone), on failure it is deleted."""
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def replacing_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of the local folder `path` to write into; on success it takes `path`'s place
    (the old folder renamed aside first, deleted after), on failure it is deleted and `path` is untouched."""
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # as a folder made by mkdir, not mkdtemp's private 0700
    old = staging.with_suffix(".old")
    try:
        yield staging
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
