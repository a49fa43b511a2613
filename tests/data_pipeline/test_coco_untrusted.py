"""A COCO annotations file is read entry by entry: a malformed image or annotation costs only itself (the
file's good images stay), and a `file_name` that leads outside the image folder is never read."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from data_pipeline.errors import DataError
from data_pipeline.readers import list_coco_images

KEYPOINTS = [v for j in range(17) for v in (10 + j, 20 + j, 2)]


def _annotation(n: int, image_id) -> dict:
    return {"id": n, "image_id": image_id, "num_keypoints": 17, "iscrowd": 0, "keypoints": KEYPOINTS}


def test_bad_entries_are_skipped_and_good_images_kept(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    outside = tmp_path / "secret.jpg"
    cv2.imwrite(str(outside), np.zeros((8, 8, 3), np.uint8))
    data = {
        "images": [
            {"id": 1, "file_name": "good.jpg"},
            {"id": 2, "file_name": "../secret.jpg"},  # outside the image folder
            {"file_name": "no-id.jpg"},
            "not even a mapping",
            {"id": 5, "file_name": "also-good.jpg"},
        ],
        "annotations": [
            _annotation(10, 1),
            _annotation(11, 2),
            {**_annotation(12, 5), "keypoints": None},  # no keypoints
            _annotation(13, 99),  # an image the file does not list
            "garbage",
            _annotation(14, 5),
        ],
    }
    path = tmp_path / "person_keypoints_val.json"
    path.write_text(json.dumps(data))
    refs = list_coco_images(path, images, split="val")
    assert [r.image_id for r in refs] == [1, 5]
    assert [a["id"] for a in refs[1].annotations] == [14]
    assert all(str(images.resolve()) in str((images / r.path).resolve()) for r in refs)


@pytest.mark.parametrize("content", ['{"images": 5, "annotations": []}', "[1, 2]", "\udcff"])
def test_a_file_that_is_not_coco_at_all_is_one_error_naming_it(tmp_path, content):
    path = tmp_path / "ann.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(DataError, match="ann.json"):
        list_coco_images(path, tmp_path)


def test_a_truncated_target_image_is_skipped_and_named_not_half_decoded(tmp_path):
    from data_pipeline.demo import write_demo
    from data_pipeline.readers import read_lsp

    write_demo(tmp_path, clips=1, target_images=2)
    cut = tmp_path / "lsp" / "images" / "im0001.jpg"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    assert cv2.imread(str(cut)) is not None  # OpenCV alone returns a half-grey image
    skipped: list = []
    samples = list(read_lsp(tmp_path / "lsp", skipped=skipped))
    assert len(samples) == 1 and "im0002" in samples[0].id
    assert [(p, "truncated" in why) for p, why in skipped] == [(str(cut), True)]
