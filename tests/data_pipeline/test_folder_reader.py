"""`folder:DIR`: a plain folder of photos is an unlabelled target (data_pipeline.readers.folder)."""

import json

import cv2
import numpy as np
import pytest

from data_pipeline.errors import DataError
from data_pipeline.pipeline import EnhanceSettings, enhance_sample, parse_input
from data_pipeline.readers.folder import list_folder_images, read_folder, read_folder_image


def _photos(root, n=8, h=60, w=40):
    root.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        cv2.imwrite(str(root / f"photo{k:02d}.{'png' if k % 2 else 'jpg'}"), np.full((h, w, 3), 30 * k, np.uint8))
    (root / "notes.txt").write_text("not an image")
    return root


def test_every_image_is_an_unlabelled_target_sample_with_a_seeded_split(tmp_path):
    root = _photos(tmp_path / "photos")
    refs = list_folder_images(root)
    assert [r.id for r in refs] == [f"photo{k:02d}" for k in range(8)]
    assert sorted(r.split for r in refs) == ["adapt"] * 4 + ["test"] * 2 + ["val"] * 2
    assert [r.split for r in refs] == [r.split for r in list_folder_images(root)]  # deterministic
    samples = list(read_folder(root))
    assert len(samples) == 8
    for sample in samples:
        assert sample.domain == "target" and sample.mask is None and sample.image.shape == (60, 40, 3)
        assert not sample.labelled.any() and not sample.visible.any()


def test_a_split_file_assigns_images_and_leaves_the_others_out(tmp_path):
    root = _photos(tmp_path / "photos", n=3)
    (root / "splits.json").write_text(json.dumps({"val": ["photo00.jpg"], "adapt": ["photo01.png"]}))
    assert [r.split for r in list_folder_images(root)] == ["val", "adapt", ""]


def test_an_unlabelled_photo_is_cropped_whole(tmp_path):
    root = _photos(tmp_path / "photos", n=1)
    row = enhance_sample(read_folder_image(list_folder_images(root)[0]), EnhanceSettings(size=32))
    assert row["width"] == 32 and not row["labelled"].any()
    assert parse_input(f"folder:{root}", "target").kind == "folder"


def test_a_missing_or_empty_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        list_folder_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        list_folder_images(tmp_path / "empty")
