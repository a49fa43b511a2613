"""LSP reader: root/joints.mat + root/images/im%04d.jpg (LSP) or im%05d.jpg (LSP-extended).

`joints` is (3, 14, N) with flag 1 = occluded in LSP and (14, 3, N) with flag 1 = visible in LSP-extended;
both in LSP-14 order. Every joint with non-negative coordinates is `labelled` (LSP annotates occluded
joints too, at their estimated position; negative coordinates mark a missing one); it is also `visible`
when its flag says it is not occluded. Coordinates are taken as stored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.images import read_image
from data_pipeline.readers._each import read_each
from data_pipeline.readers._mat import load_mat, mat_array
from data_pipeline.readers.sample import Sample
from data_pipeline.readers.splits import UNASSIGNED, read_split_file


def default_splits(n: int) -> dict[str, list[int]]:
    """LSP's 2000 images as 1..1000 adapt (unlabelled use), 1001..1500 val, 1501..2000 test, scaled to n."""
    a, b = n // 2, (3 * n) // 4
    return {
        "adapt": list(range(1, a + 1)),
        "val": list(range(a + 1, b + 1)),
        "test": list(range(b + 1, n + 1)),
    }


def _load_splits(root: Path, n: int) -> dict[int, str]:
    path = root / "splits.json"
    splits = read_split_file(path) if path.is_file() else default_splits(n)
    by_id: dict[int, str] = {}
    for name, ids in splits.items():
        for image_id in ids:
            try:
                by_id[int(str(image_id).removeprefix("im"))] = name
            except ValueError as error:
                raise DataError(path, f"split {name!r} holds a bad image id {image_id!r}") from error
    return by_id


def _image_path(images: Path, number: int) -> Path:
    for digits in (4, 5):
        path = images / f"im{number:0{digits}d}.jpg"
        if path.is_file():
            return path
    return images / f"im{number:04d}.jpg"


@dataclass(frozen=True, eq=False)
class LspImageRef:
    """One labelled image: its path and joints (small and picklable, so a Ray Data job can spread images
    over workers the way it spreads SURREAL clips)."""

    path: str
    joints: np.ndarray  # (14, 2) float32, x,y pixels
    labelled: np.ndarray  # (14,) bool
    visible: np.ndarray  # (14,) bool, implies labelled
    split: str

    @property
    def id(self) -> str:
        return Path(self.path).stem


def list_lsp_images(
    root: str | os.PathLike, extended: bool = False, splits: dict | None = None
) -> list[LspImageRef]:
    """Every image listed by root/joints.mat, in image order. `splits` ({"adapt": [ids], ...}, ids = image
    numbers) overrides root/splits.json, which overrides default_splits; an image no split lists has split
    "" (the enhancement job reports it instead of writing it). Images are not opened here."""
    root = Path(root)
    mat_path = root / "joints.mat"
    raw = mat_array(load_mat(mat_path, required=("joints",)), "joints", mat_path, ndim=3)
    if extended:
        if raw.shape[:2] != (14, 3):
            raise DataError(mat_path, f"joints has shape {raw.shape}, LSP-extended expects (14, 3, N)")
        xy, flag = raw[:, :2, :].transpose(2, 0, 1), raw[:, 2, :].T
        not_occluded = flag == 1
    else:
        if raw.shape[:2] != (3, 14):
            raise DataError(mat_path, f"joints has shape {raw.shape}, LSP expects (3, 14, N)")
        xy, flag = raw[:2].transpose(2, 1, 0), raw[2].T
        not_occluded = flag == 0
    labelled = (xy >= 0).all(axis=-1)
    visible = labelled & not_occluded
    n = xy.shape[0]
    if splits is not None:
        by_id = {int(str(i).removeprefix("im")): name for name, ids in splits.items() for i in ids}
    else:
        by_id = _load_splits(root, n)
    images = root / "images"
    return [
        LspImageRef(
            path=str(_image_path(images, k + 1)),
            joints=xy[k].astype(np.float32),
            labelled=labelled[k].copy(),
            visible=visible[k].copy(),
            split=by_id.get(k + 1, UNASSIGNED),
        )
        for k in range(n)
    ]


def read_lsp_image(ref: LspImageRef) -> Sample:
    """Decode one image into a Sample (mask=None: LSP has no person masks); DataError if unreadable."""
    rgb = read_image(ref.path)  # refuses a missing, truncated or undecodable file (DataError)
    return Sample(
        image=rgb,
        mask=None,
        joints=ref.joints.copy(),
        labelled=ref.labelled.copy(),
        visible=ref.visible.copy(),
        id=ref.id,
        domain="target",
        split=ref.split,
        source_file=ref.path,
    )


def read_lsp(
    root: str | os.PathLike,
    extended: bool = False,
    splits: dict | None = None,
    skipped: list | None = None,
) -> Iterator[Sample]:
    """Every image with its 14 joints, in image order. A missing or corrupt image is skipped with a
    warning and, when `skipped` (a list) is given, recorded in it as (path, reason); a bad joints.mat or
    splits.json raises DataError."""
    yield from read_each(
        list_lsp_images(root, extended, splits), lambda ref: [read_lsp_image(ref)], "LSP image", skipped
    )
