"""An unlabelled target: a plain folder of photos (`folder:DIR`), one person per image, no keypoint labels.

This is what most users have for their own domain. Every image becomes one Sample with every joint
unlabelled, no person mask, and the whole image taken as the person's box (crop a photo around the person
first if it holds more than one). Splits: DIR/splits.json ({"adapt": [names], "val": [...], "test": [...]},
file names without folder) when present, else the seeded half/quarter/quarter split of the file names
(`splits.seeded_splits`). Such a target adapts the network and selects models by label-free scores only
(models.label_free); posetune reports no labelled metric for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.images import read_image
from data_pipeline.joints import LSP14
from data_pipeline.readers._each import read_each
from data_pipeline.readers.sample import Sample
from data_pipeline.readers.splits import UNASSIGNED, read_split_file, seeded_splits

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class FolderImageRef:
    """One unlabelled image: its path and split (small and picklable, for the Ray Data job)."""

    path: str
    split: str

    @property
    def id(self) -> str:
        return Path(self.path).stem


def list_folder_images(root: str | os.PathLike, seed: int = 0) -> list[FolderImageRef]:
    """Every image file directly in `root` (IMAGE_SUFFIXES, any case), by name, with its split. DataError
    when `root` is no folder or holds no image. Images are not opened here."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "not a folder of images")
    names = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not names:
        raise DataError(root, f"no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    split_path = root / "splits.json"
    if split_path.is_file():
        by_name = {str(name): split for split, ids in read_split_file(split_path).items() for name in ids}
    else:
        by_name = seeded_splits(names, seed)
    return [FolderImageRef(str(root / name), by_name.get(name, UNASSIGNED)) for name in names]


def read_folder_image(ref: FolderImageRef) -> Sample:
    """Decode one image into an unlabelled Sample; DataError if unreadable."""
    joints = len(LSP14)
    return Sample(
        image=read_image(ref.path),
        mask=None,
        joints=np.zeros((joints, 2), np.float32),
        labelled=np.zeros(joints, bool),
        visible=np.zeros(joints, bool),
        id=ref.id,
        domain="target",
        split=ref.split,
        source_file=ref.path,
    )


def read_folder(root: str | os.PathLike, seed: int = 0, skipped: list | None = None) -> Iterator[Sample]:
    """Every image of the folder as an unlabelled Sample; a corrupt image is skipped (and recorded)."""
    yield from read_each(list_folder_images(root, seed), lambda ref: [read_folder_image(ref)], "image", skipped)
