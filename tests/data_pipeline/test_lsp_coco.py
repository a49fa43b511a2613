"""LSP (both layouts) and COCO readers on files written here, and the demo target set."""

import json

import cv2
import numpy as np
import pytest
import scipy.io

from data_pipeline.demo import render_target
from data_pipeline.errors import DataError
from data_pipeline.joints import LSP14_INDEX
from data_pipeline.readers import (
    default_splits,
    list_coco_images,
    list_lsp_images,
    read_coco,
    read_coco_image,
    read_lsp,
    read_lsp_image,
)


def _image(path, h=60, w=40):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), (10, 20, 200), np.uint8))  # BGR: red in RGB


def test_demo_target_round_trip_joints_and_occlusion(demo):
    out, summary = demo
    samples = list(read_lsp(out / "lsp"))
    assert len(samples) == 8 and [s.id for s in samples] == [f"im{i:04d}" for i in range(1, 9)]
    splits = json.loads((out / "lsp" / "splits.json").read_text())
    assert {s.split for s in samples} == {"adapt", "val", "test"}
    for k, sample in enumerate(samples):
        image, joints, occluded = render_target(np.random.default_rng([7, 1, k]))
        np.testing.assert_allclose(sample.joints, joints, atol=1e-4)
        assert sample.labelled.all()  # LSP annotates occluded joints too
        np.testing.assert_array_equal(sample.visible, ~occluded)
        assert sample.image.shape == image.shape and sample.mask is None and sample.domain == "target"
        assert k + 1 in splits[sample.split]
        # LSP framing: every joint inside the image, the head-top above the neck.
        h, w = image.shape[:2]
        assert ((sample.joints >= 0) & (sample.joints < [w, h])).all()
        assert sample.joints[LSP14_INDEX["head_top"], 1] < sample.joints[LSP14_INDEX["neck"], 1]


def test_lsp_flag_one_is_occluded_and_negative_coordinates_are_missing(tmp_path):
    joints = np.zeros((3, 14, 2))
    joints[0], joints[1] = 10.0, 20.0
    joints[2, 3, 0] = 1  # occluded
    joints[0, 5, 1] = -1  # missing
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    for i in (1, 2):
        _image(tmp_path / "images" / f"im{i:04d}.jpg")
    first, second = read_lsp(tmp_path)
    assert first.labelled.all()  # the occluded joint has a position: labelled, only not visible
    assert first.visible.tolist() == [j != 3 for j in range(14)]
    assert second.labelled.tolist() == second.visible.tolist() == [j != 5 for j in range(14)]
    assert (first.split, second.split) == ("adapt", "test")  # the default rule, scaled to 2 images
    np.testing.assert_allclose(first.image[0, 0], [200, 20, 10], atol=3)  # RGB (JPEG is lossy)


def test_lsp_extended_layout_flag_one_is_visible(tmp_path):
    joints = np.zeros((14, 3, 3))
    joints[:, 0], joints[:, 1] = 5.0, 7.0
    joints[:, 2, :] = 1
    joints[8, 2, 2] = 0
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    for i in (1, 2, 3):
        _image(tmp_path / "images" / f"im{i:05d}.jpg")
    samples = list(read_lsp(tmp_path, extended=True, splits={"adapt": [1], "val": ["im00002"], "test": [3]}))
    assert [s.split for s in samples] == ["adapt", "val", "test"]
    assert samples[0].visible.all() and samples[2].visible.tolist() == [j != 8 for j in range(14)]
    assert all(s.labelled.all() for s in samples)  # flag 0 there means occluded, not missing
    np.testing.assert_allclose(samples[1].joints, np.tile([5.0, 7.0], (14, 1)))
    with pytest.raises(DataError, match=r"LSP expects \(3, 14, N\)"):
        next(read_lsp(tmp_path, extended=False))


def test_lsp_missing_files_are_named(tmp_path):
    with pytest.raises(DataError, match="joints.mat: file is missing"):
        next(read_lsp(tmp_path))
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": np.zeros((3, 14, 1))})
    [ref] = list_lsp_images(tmp_path)
    with pytest.raises(DataError, match="im0001.jpg: image is missing"):
        read_lsp_image(ref)
    scipy.io.savemat(tmp_path / "joints.mat", {"other": np.zeros(3)})
    with pytest.raises(DataError, match="missing variable"):
        next(read_lsp(tmp_path))


def test_lsp_skips_a_corrupt_image_names_it_and_keeps_the_rest(tmp_path):
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": np.zeros((3, 14, 4))})
    for i in (1, 2, 3, 4):
        _image(tmp_path / "images" / f"im{i:04d}.jpg")
    (tmp_path / "images" / "im0002.jpg").write_bytes(b"not a jpeg")
    skipped: list = []
    samples = list(read_lsp(tmp_path, skipped=skipped))
    assert [s.id for s in samples] == ["im0001", "im0003", "im0004"]
    assert skipped == [(str(tmp_path / "images" / "im0002.jpg"), "image is missing or cannot be decoded")]
    refs = list_lsp_images(tmp_path)  # listing reads labels only: the bad image is still listed
    assert [r.id for r in refs] == ["im0001", "im0002", "im0003", "im0004"]
    np.testing.assert_array_equal(read_lsp_image(refs[3]).image, samples[2].image)


def test_default_splits_follow_lsp_thousands():
    splits = default_splits(2000)
    assert (
        splits["adapt"][-1] == 1000
        and splits["val"] == list(range(1001, 1501))
        and splits["test"][-1] == 2000
    )


def _coco_file(tmp_path):
    _image(tmp_path / "img" / "000001.jpg", 100, 120)
    _image(tmp_path / "img" / "000002.jpg", 80, 80)
    keypoints = np.zeros((17, 3))
    keypoints[:, 0], keypoints[:, 1], keypoints[:, 2] = np.arange(17) + 10, 30, 2
    keypoints[7, 2] = 1  # left elbow labelled but occluded
    keypoints[9, 2] = 0  # left wrist not labelled
    ann = {"num_keypoints": 15, "keypoints": keypoints.reshape(-1).tolist(), "iscrowd": 0}
    data = {
        "images": [{"id": 1, "file_name": "000001.jpg"}, {"id": 2, "file_name": "000002.jpg"}],
        "annotations": [
            {**ann, "id": 11, "image_id": 1, "segmentation": [[10, 10, 50, 10, 50, 60, 10, 60]]},
            {**ann, "id": 12, "image_id": 2, "num_keypoints": 0},
            {**ann, "id": 13, "image_id": 2, "segmentation": {"counts": "xyz", "size": [80, 80]}},
        ],
    }
    path = tmp_path / "person_keypoints_val2017.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_one_sample_per_annotated_person_mapped_to_lsp(tmp_path):
    path = _coco_file(tmp_path)
    first, second = read_coco(path, tmp_path / "img")
    assert (first.id, second.id) == ("coco/1/11", "coco/2/13")
    assert first.split in ("adapt", "val", "test")  # never COCO's own set name, which no trial reads
    assert first.joints[LSP14_INDEX["left_shoulder"]].tolist() == [15.0, 30.0]  # COCO 5
    assert first.joints[LSP14_INDEX["right_ankle"]].tolist() == [26.0, 30.0]  # COCO 16
    visible = dict(zip(LSP14_INDEX, first.visible.tolist(), strict=True))
    labelled = dict(zip(LSP14_INDEX, first.labelled.tolist(), strict=True))
    assert not visible["left_elbow"] and not visible["left_wrist"] and visible["right_elbow"]
    assert labelled["left_elbow"] and not labelled["left_wrist"]  # v = 1 is labelled, v = 0 is not
    assert not labelled["neck"] and not labelled["head_top"]  # COCO has neither
    assert first.mask.sum() == pytest.approx(40 * 50, rel=0.1) and second.mask is None


def test_coco_bad_files_are_named(tmp_path):
    path = tmp_path / "person_keypoints_x.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a COCO keypoints file"):
        next(read_coco(path, tmp_path))
    path = _coco_file(tmp_path)
    (tmp_path / "img" / "000002.jpg").unlink()
    first, second = list_coco_images(path, tmp_path / "img")
    with pytest.raises(DataError, match="000002.jpg: image is missing"):
        read_coco_image(second)
    skipped: list = []
    assert [s.id for s in read_coco(path, tmp_path / "img", skipped=skipped)] == ["coco/1/11"]
    assert skipped == [(second.path, "image is missing or cannot be decoded")]
    assert [s.id for s in read_coco_image(first)] == ["coco/1/11"]


def test_coco_images_get_a_seeded_adapt_val_test_split_or_a_split_files(tmp_path):
    from tests.data_pipeline.formats import write_coco

    annotations, images = write_coco(tmp_path, n=12, seed=1)
    refs = list_coco_images(annotations, images)
    splits = [r.split for r in refs]
    assert (splits.count("adapt"), splits.count("val"), splits.count("test")) == (6, 3, 3)
    assert splits == [r.split for r in list_coco_images(annotations, images)]  # seeded: the same again
    assert splits != [r.split for r in list_coco_images(annotations, images, seed=5)]
    assert {r.split for r in list_coco_images(annotations, images, split="test")} == {"test"}
    split_file = tmp_path / "splits.json"
    split_file.write_text(json.dumps({"adapt": [1, 2], "val": [3], "test": [4]}))
    chosen = {r.image_id: r.split for r in list_coco_images(annotations, images, splits_file=split_file)}
    assert chosen[1] == "adapt" and chosen[3] == "val" and chosen[5] == ""  # left out: in no split
    split_file.write_text(json.dumps({"train": [1]}))
    with pytest.raises(DataError, match="unknown split name"):
        list_coco_images(annotations, images, splits_file=split_file)
