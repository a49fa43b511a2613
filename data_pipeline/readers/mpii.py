"""MPII reader for the annotation people actually have: the widely used JSON conversion (train.json /
valid.json of the HRNet and SimpleBaseline code bases) plus, for PCKh, the head boxes of its gt_*.mat.

JSON: a list with one entry per person: `image` (file name in IMAGE_DIR), `joints` 16 x [x, y] and
`center` in MATLAB's 1-based pixels (we subtract 1), `joints_vis` 16 flags, `scale` (person height / 200).
`joints_vis` says whether a joint is annotated: it is `labelled`. The conversion drops MPII's own
occlusion flag, so `visible` equals `labelled` here (the visible-only view is the full view on MPII).
Head boxes: `headboxes_src` (2, 2, N) of gt_valid.mat, corner x xy x person in the JSON's order; the PCKh
normaliser is 0.6 x the box diagonal (MPII's SC_BIAS). Splits: seeded by image name (readers.splits).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.images import read_image
from data_pipeline.joints import MPII16_TO_LSP14, map_joints
from data_pipeline.readers._each import read_each
from data_pipeline.readers._json import load_json
from data_pipeline.readers._mat import load_mat, mat_array
from data_pipeline.readers.sample import Sample
from data_pipeline.readers.splits import seeded_splits

HEAD_SIZE_BIAS = 0.6  # MPII's SC_BIAS: head size = 0.6 x the head box's diagonal


@dataclass(frozen=True, eq=False)
class MpiiPerson:
    index: int  # position in the JSON list (and in the head-box file)
    joints: np.ndarray  # (14, 2) float32, 0-based pixels, LSP-14
    labelled: np.ndarray  # (14,) bool
    head_size: float | None


@dataclass(frozen=True, eq=False)
class MpiiImageRef:
    """One image and its annotated people (small and picklable, for the Ray Data job)."""

    path: str
    people: tuple[MpiiPerson, ...]
    split: str


def head_sizes(head_boxes_mat: str | os.PathLike) -> np.ndarray:
    """(N,) PCKh normalisers from `headboxes_src` (2, 2, N) of a gt_*.mat file."""
    data = load_mat(head_boxes_mat, required=("headboxes_src",))
    boxes = mat_array(data, "headboxes_src", head_boxes_mat, ndim=3)
    if boxes.shape[:2] != (2, 2):
        raise DataError(head_boxes_mat, f"headboxes_src has shape {boxes.shape}, expected (2, 2, N)")
    return HEAD_SIZE_BIAS * np.linalg.norm(boxes[1] - boxes[0], axis=0)


def _entries(path: Path) -> list[dict]:
    entries = load_json(path)
    if not isinstance(entries, list):
        raise DataError(path, "expected a JSON list of people (the MPII JSON conversion)")
    return entries


def list_mpii_images(
    annotations_json: str | os.PathLike,
    image_dir: str | os.PathLike,
    head_boxes: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[MpiiImageRef]:
    """Every image with at least one annotated joint, grouped by file name, in name order; its split from
    the seeded split of the names. `head_boxes` (a gt_*.mat aligned with the JSON) gives PCKh sizes."""
    path = Path(annotations_json)
    entries = _entries(path)
    sizes = head_sizes(head_boxes) if head_boxes is not None else None
    if sizes is not None and len(sizes) != len(entries):
        raise DataError(head_boxes, f"holds {len(sizes)} head boxes for {len(entries)} people in {path.name}")
    by_image: dict[str, list[MpiiPerson]] = defaultdict(list)
    for k, entry in enumerate(entries):
        try:
            xy = np.asarray(entry["joints"], dtype=np.float32).reshape(16, 2) - 1.0  # 1-based -> 0-based
            flags = np.asarray(entry["joints_vis"], dtype=np.float32).reshape(16) > 0
            image = str(entry["image"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(
                path, f"entry {k} is not an MPII person ({type(error).__name__}: {error})"
            ) from error
        joints, labelled = map_joints(xy, MPII16_TO_LSP14, flags & (xy >= 0).all(axis=-1))
        if labelled.any():
            size = None if sizes is None else float(sizes[k])
            by_image[image].append(MpiiPerson(k, joints, labelled, size))
    split_of = seeded_splits(by_image, seed)
    return [
        MpiiImageRef(str(Path(image_dir) / name), tuple(people), split_of[name])
        for name, people in sorted(by_image.items())
    ]


def read_mpii_image(ref: MpiiImageRef) -> list[Sample]:
    """One Sample per annotated person of one image (decoded once); DataError names the bad file."""
    rgb = read_image(ref.path)  # refuses a missing, truncated or undecodable file (DataError)
    return [
        Sample(
            image=rgb,
            mask=None,
            joints=person.joints.copy(),
            labelled=person.labelled.copy(),
            visible=person.labelled.copy(),
            id=f"mpii/{Path(ref.path).stem}/{person.index}",
            domain="target",
            split=ref.split,
            source_file=ref.path,
            head_size=person.head_size,
        )
        for person in ref.people
    ]


def read_mpii(
    annotations_json: str | os.PathLike,
    image_dir: str | os.PathLike,
    head_boxes: str | os.PathLike | None = None,
    skipped: list | None = None,
    seed: int = 0,
) -> Iterator[Sample]:
    """Samples for every annotated person, image by image; a missing or corrupt image is skipped with a
    warning (recorded in `skipped` as (path, reason) when given); a bad annotation file raises DataError."""
    yield from read_each(
        list_mpii_images(annotations_json, image_dir, head_boxes, seed),
        read_mpii_image,
        "MPII image",
        skipped,
    )
