"""Skeleton drawing: right limbs in one colour, left in another, bones only between visible joints."""

import numpy as np

from data_pipeline.joints import LSP14_INDEX
from data_pipeline.preview import LEFT_COLOUR, RIGHT_COLOUR, draw_skeleton, sample_grid
from data_pipeline.readers import Sample


def _standing():
    j = {
        "right_ankle": (30, 90), "right_knee": (30, 70), "right_hip": (35, 50), "left_hip": (65, 50),
        "left_knee": (70, 70), "left_ankle": (70, 90), "right_wrist": (10, 50), "right_elbow": (15, 35),
        "right_shoulder": (30, 20), "left_shoulder": (70, 20), "left_elbow": (85, 35), "left_wrist": (90, 50),
        "neck": (50, 15), "head_top": (50, 2),
    }  # fmt: skip
    return np.array([j[name] for name in LSP14_INDEX], np.float32)


def test_right_and_left_limbs_have_their_colours():
    image = np.zeros((100, 100, 3), np.uint8)
    out = draw_skeleton(image, _standing(), np.ones(14, bool))
    assert image.max() == 0  # the input is not drawn on
    assert tuple(out[80, 30]) == RIGHT_COLOUR  # right shin
    assert tuple(out[80, 70]) == LEFT_COLOUR  # left shin


def test_bones_need_both_joints_visible():
    visible = np.ones(14, bool)
    visible[LSP14_INDEX["right_ankle"]] = False
    out = draw_skeleton(np.zeros((100, 100, 3), np.uint8), _standing(), visible)
    assert out[80, 30].max() == 0  # no right shin
    assert out[88:93, 27:34].max() > 0  # a hollow marker where the hidden ankle is


def test_grid_has_a_cell_per_sample():
    ones = np.ones(14, bool)
    sample = Sample(np.zeros((100, 100, 3), np.uint8), None, _standing(), ones, ones, "x", "target")
    grid = sample_grid([sample] * 7, columns=3, cell=120)
    assert grid.shape == (3 * 120, 3 * 120, 3)
