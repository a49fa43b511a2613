"""The MPII reader on files written in the common JSON conversion's exact format, plus gt_valid.mat."""

import json

import numpy as np
import pytest
import scipy.io

from data_pipeline.errors import DataError
from data_pipeline.joints import LSP14_INDEX, MPII16
from data_pipeline.readers import list_mpii_images, read_mpii
from tests.data_pipeline.formats import write_mpii


@pytest.fixture(scope="module")
def mpii(tmp_path_factory):
    return write_mpii(tmp_path_factory.mktemp("mpii"), n=8, seed=2)


def test_joints_are_zero_based_labelled_from_joints_vis_with_head_sizes(mpii):
    annotations, images, head_boxes, boxes = mpii
    entries = json.loads(annotations.read_text())
    samples = sorted(read_mpii(annotations, images, head_boxes), key=lambda s: int(s.id.rsplit("/", 1)[1]))
    assert len(samples) == 8
    for k, sample in enumerate(samples):
        raw = np.asarray(entries[k]["joints"]) - 1
        assert sample.joints[LSP14_INDEX["left_wrist"]].tolist() == pytest.approx(
            raw[MPII16.index("left_wrist")].tolist(), abs=1e-4
        )
        assert sample.joints[LSP14_INDEX["neck"]].tolist() == pytest.approx(
            raw[MPII16.index("upper_neck")].tolist(), abs=1e-4
        )
        np.testing.assert_array_equal(sample.visible, sample.labelled)  # the conversion has no occlusion flag
        diagonal = np.linalg.norm(boxes[k, 1] - boxes[k, 0])
        assert sample.head_size == pytest.approx(0.6 * diagonal)
        assert sample.split in ("adapt", "val", "test") and sample.mask is None
    assert not samples[0].labelled[LSP14_INDEX["left_ankle"]] and samples[0].labelled.sum() == 13
    assert samples[1].labelled.all()


def test_images_are_split_by_a_seed(mpii):
    annotations, images, _, _ = mpii
    first = {r.path: r.split for r in list_mpii_images(annotations, images)}
    assert first == {r.path: r.split for r in list_mpii_images(annotations, images)}
    assert sorted(first.values()).count("adapt") == 4 and set(first.values()) == {"adapt", "val", "test"}
    assert first != {r.path: r.split for r in list_mpii_images(annotations, images, seed=1)}


def test_bad_files_are_named(mpii, tmp_path):
    annotations, images, head_boxes, _ = mpii
    short = tmp_path / "gt_short.mat"
    scipy.io.savemat(short, {"headboxes_src": np.zeros((2, 2, 3))})
    with pytest.raises(DataError, match="3 head boxes for 8 people"):
        list_mpii_images(annotations, images, short)
    bad = tmp_path / "valid.json"
    bad.write_text(json.dumps([{"image": "x.jpg", "joints": [[1, 2]]}]))
    with pytest.raises(DataError, match="entry 0 is not an MPII person"):
        list_mpii_images(bad, images)
    skipped: list = []
    next(iter(sorted(images.glob("*.jpg")))).write_bytes(b"not a jpeg")
    assert len(list(read_mpii(annotations, images, skipped=skipped))) == 7 and len(skipped) == 1
