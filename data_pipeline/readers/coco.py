"""COCO keypoints reader: person_keypoints_<set>.json + its image folder, one Sample per annotated person.

COCO's 17 keypoints are mapped with COCO17_TO_LSP14 (no neck or head-top: those are unlabelled). The flag
v gives both masks: v = 0 unlabelled, v = 1 labelled and occluded, v = 2 labelled and visible (COCO's OKS
counts v = 1 and v = 2 alike). The person mask is the annotation's polygons (None for RLE).

Splits: COCO's own sets (train2017, val2017) are not adapt/val/test. Images are split by
`readers.splits.seeded_splits` of their image ids (half adapt, a quarter val, a quarter test; every person
of an image in the image's split), or by an explicit split file of image ids.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.images import read_image
from data_pipeline.joints import COCO17_TO_LSP14, map_joints
from data_pipeline.readers._each import read_each
from data_pipeline.readers.sample import Sample
from data_pipeline.readers.splits import UNASSIGNED, read_split_file, seeded_splits

log = logging.getLogger(__name__)


def _polygon_mask(segmentation, shape: tuple[int, int]) -> np.ndarray | None:
    if not isinstance(segmentation, list) or not segmentation:
        return None
    mask = np.zeros(shape, np.uint8)
    for polygon in segmentation:
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


@dataclass(frozen=True, eq=False)
class CocoImageRef:
    """One image and its annotated people (small and picklable, so a Ray Data job can spread images over
    workers). `annotations` are COCO's own dicts, already filtered to num_keypoints > 0, not crowd."""

    path: str
    image_id: int
    annotations: tuple
    split: str
    annotations_file: str


def list_coco_images(
    annotations_json: str | os.PathLike,
    image_dir: str | os.PathLike,
    split: str = "",
    splits_file: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[CocoImageRef]:
    """Every image with at least one annotated person, by image id. Its split: `split` for all when given,
    else the split file's (image ids; an image it leaves out has split ""), else the seeded split of the
    image ids. Images are not opened here."""
    path = Path(annotations_json)
    entries, annotations = _read_coco_file(path)
    # One malformed entry costs that entry (named in a warning), not the file's good images.
    root = Path(image_dir).resolve()
    images = {}
    for n, image in enumerate(entries):
        name = image.get("file_name") if isinstance(image, dict) else None
        if not isinstance(name, str) or "id" not in image:
            log.warning("%s: images[%d] has no id or file_name; skipped", path, n)
        elif not (root / name).resolve().is_relative_to(root):
            log.warning("%s: images[%d] file_name %r leads outside %s; skipped", path, n, name, root)
        else:
            images[image["id"]] = image
    by_image: dict[int, list[dict]] = defaultdict(list)
    for n, annotation in enumerate(annotations):
        if not isinstance(annotation, dict) or annotation.get("image_id") not in images:
            log.warning("%s: annotations[%d] is malformed or names no listed image; skipped", path, n)
            continue
        keypoints = annotation.get("keypoints")
        if not isinstance(keypoints, list) or len(keypoints) != 51:
            log.warning("%s: annotations[%d] does not hold 17 keypoints (51 values); skipped", path, n)
            continue
        if (annotation.get("num_keypoints") or 0) > 0 and not annotation.get("iscrowd", 0):
            by_image[annotation["image_id"]].append(annotation)
    split_of = _split_of(by_image, split, splits_file, seed)
    refs = []
    for image_id in sorted(by_image, key=lambda i: (isinstance(i, str), i)):
        refs.append(
            CocoImageRef(
                path=str(Path(image_dir) / images[image_id]["file_name"]),
                image_id=image_id,
                annotations=tuple(by_image[image_id]),
                split=split_of.get(image_id, UNASSIGNED),
                annotations_file=str(path),
            )
        )
    return refs


def _read_coco_file(path: Path) -> tuple[list, list]:
    """The `images` and `annotations` lists of a COCO keypoints file; DataError when it is not one."""
    if not path.is_file():
        raise DataError(path, "file is missing")
    try:
        data = json.loads(path.read_text())
        entries, annotations = data["images"], data["annotations"]
        if not isinstance(entries, list) or not isinstance(annotations, list):
            raise TypeError("'images' and 'annotations' must be lists")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise DataError(path, f"not a COCO keypoints file ({type(error).__name__}: {error})") from error
    return entries, annotations


def _split_of(by_image: dict, split: str, splits_file: str | os.PathLike | None, seed: int) -> dict:
    """Image id -> split: `split` for all, else the split file's, else the seeded split of the ids."""
    if split:
        return dict.fromkeys(by_image, split)
    if splits_file is None:
        return seeded_splits(by_image, seed)
    try:
        return {int(i): name for name, ids in read_split_file(splits_file).items() for i in ids}
    except (TypeError, ValueError) as error:
        raise DataError(splits_file, f"COCO split files list image ids (ints): {error}") from error


def read_coco_image(ref: CocoImageRef) -> list[Sample]:
    """One Sample per annotated person of one image (decoded once); DataError names the bad file."""
    rgb = read_image(ref.path)  # refuses a missing, truncated or undecodable file (DataError)
    samples = []
    for annotation in ref.annotations:
        keypoints = np.asarray(annotation["keypoints"], dtype=np.float32)
        if keypoints.shape != (51,):
            raise DataError(
                ref.annotations_file,
                f"annotation {annotation.get('id')} has {keypoints.size} keypoint values, expected 51",
            )
        keypoints = keypoints.reshape(17, 3)
        v = keypoints[:, 2]
        joints, labelled, visible = map_joints(keypoints[:, :2], COCO17_TO_LSP14, v > 0, v == 2)
        samples.append(
            Sample(
                image=rgb,
                mask=_polygon_mask(annotation.get("segmentation"), rgb.shape[:2]),
                joints=joints,
                labelled=labelled,
                visible=visible,
                id=f"coco/{ref.image_id}/{annotation['id']}",
                domain="target",
                split=ref.split,
                source_file=ref.path,
            )
        )
    return samples


def read_coco(
    annotations_json: str | os.PathLike,
    image_dir: str | os.PathLike,
    split: str = "",
    skipped: list | None = None,
    splits_file: str | os.PathLike | None = None,
    seed: int = 0,
) -> Iterator[Sample]:
    """Samples for every annotation with num_keypoints > 0, image by image. A missing or corrupt image
    (or annotation) is skipped with a warning and, when `skipped` (a list) is given, recorded in it as
    (path, reason); an unreadable annotations file raises DataError."""
    yield from read_each(
        list_coco_images(annotations_json, image_dir, split, splits_file, seed),
        read_coco_image,
        "COCO image",
        skipped,
    )
