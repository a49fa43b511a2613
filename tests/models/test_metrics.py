import numpy as np
import pytest

from data_pipeline.joints import ELBOWS, LSP14_INDEX, SHARED_JOINTS
from models import metric_names as names
from models.metrics import pck_tllib, pck_tllib_per_joint, pckh, pdj, rmse, summarize

J = 14
HEAD_TOP = LSP14_INDEX["head_top"]


def _case():
    """Two samples; torso diameter (left shoulder 9 -> right hip 2) is 10 px in sample 0, 20 px in sample 1."""
    gt = np.zeros((2, J, 2))
    gt[0, 9], gt[0, 2] = (0, 0), (0, 10)
    gt[1, 9], gt[1, 2] = (0, 0), (0, 20)
    pred = gt.copy()
    pred[:, 0] += (3.0, 0.0)  # joint 0 off by 3 px in both samples
    pred[1, 7] += (0.0, 4.0)  # right elbow off by 4 px in sample 1
    labelled = np.ones((2, J), dtype=bool)
    labelled[:, HEAD_TOP] = False  # head-top never labelled (as on SURREAL)
    return pred, gt, labelled


def test_pdj_per_joint_by_hand():
    pred, gt, labelled = _case()
    # fraction 0.2: thresholds 2 px and 4 px. Joint 0 (3 px): missed in sample 0, hit in 1 -> 0.5.
    # Joint 7 (4 px in sample 1): 4 < 4 is false -> missed there, hit (0 px) in sample 0 -> 0.5.
    result = pdj(pred, gt, labelled, 0.2)
    assert result[0] == 0.5 and result[7] == 0.5 and result[1] == 1.0
    assert np.isnan(result[HEAD_TOP])
    assert pdj(pred, gt, labelled, 0.4)[0] == 1.0  # thresholds 4 and 8 px


def test_pdj_torso_needs_labelled_joints_not_visible_ones():
    pred, gt, labelled = _case()
    visible = labelled.copy()
    visible[0, 2] = False  # sample 0's right hip is occluded: still labelled, so sample 0 still counts
    assert pdj(pred, gt, labelled, 0.2, counted=visible)[0] == 0.5
    # the occluded joint itself drops out of the visible-only view, and only there
    assert pdj(pred, gt, labelled, 0.2)[2] == 1.0
    assert pdj(pred, gt, labelled, 0.2, counted=visible)[2] == 1.0  # sample 1's hip, alone
    unlabelled = labelled.copy()
    unlabelled[0, 2] = False  # no position at all: sample 0 has no torso and drops out
    result = pdj(pred, gt, unlabelled, 0.2)
    assert result[0] == 1.0 and result[7] == 0.0


def test_rmse_by_hand():
    pred, gt, labelled = _case()
    # 26 labelled joints; squared errors 9 + 9 + 16 -> sqrt(34 / 26).
    assert rmse(pred, gt, labelled) == pytest.approx(np.sqrt(34 / 26))
    assert rmse(pred, gt, labelled, joints=[0]) == pytest.approx(3.0)
    assert np.isnan(rmse(pred, gt, np.zeros_like(labelled)))


def test_pckh_is_mpii_rule():
    pred, gt, labelled = _case()
    # head sizes 6 and 8: thresholds 3 and 4 px, inclusive (MPII counts error <= threshold).
    per = pckh(pred, gt, labelled, np.array([6.0, 8.0]))
    assert per[0] == 1.0 and per[7] == 1.0
    per = pckh(pred, gt, labelled, np.array([5.0, np.nan]))  # sample 1 has no head size: left out
    assert per[0] == 0.0 and per[7] == 1.0


def test_pck_tllib_quantises_like_tllib():
    """Argmax cells against the ground truth's cell int(x / 4 + 0.5), threshold 3.2 cells, visible only,
    cells at x <= 1 or y <= 1 skipped, the mean over the 12 limb joints."""
    gt = np.full((1, J, 2), 100.0)  # input pixels; cell 25
    gt[0, 1] = (101.9, 100.0)  # cell int(25.475 + 0.5) = 25
    gt[0, 2] = (102.1, 100.0)  # cell 26
    gt[0, 3] = (4.0, 100.0)  # cell x = 1: tllib skips it
    cells = np.full((1, J, 2), 25.0)
    cells[0, 0] = (28.0, 26.0)  # distance sqrt(10) = 3.16 < 3.2: hit
    cells[0, 1] = (28.0, 27.0)  # sqrt(13) = 3.6: miss
    cells[0, 2] = (
        29.0,
        25.0,
    )  # 3 cells from its cell 26: hit (3.5 px... from the float label would not matter)
    visible = np.ones((1, J), dtype=bool)
    visible[0, 4] = False  # occluded joints are not counted by tllib's LSP reader
    per = pck_tllib_per_joint(cells, gt, visible, input_size=256, heatmap_size=64)
    assert per[0] == 1.0 and per[1] == 0.0 and per[2] == 1.0
    assert np.isnan(per[3]) and np.isnan(per[4])
    limbs = [v for j, v in enumerate(per[:12]) if j not in (3, 4)]
    assert pck_tllib(cells, gt, visible, 256, 64) == pytest.approx(np.mean(limbs))


def test_summarize_averages_shared_joints_and_names_every_key():
    pred, gt, labelled = _case()
    labelled[:, HEAD_TOP] = True  # a target that labels head-top: still not in "all joints" means
    pred[:, HEAD_TOP] += 100.0
    visible = labelled.copy()
    visible[1, 7] = False  # the 4 px elbow miss is occluded: the visible-only view does not see it
    cells = np.zeros((2, J, 2))
    out = summarize(pred, gt, labelled, visible, 64, 16, pred_cells=cells, prefix=names.TARGET_VAL)
    shared = list(SHARED_JOINTS)
    for name in names.PDJ_FRACTIONS:
        key = names.TARGET_VAL + name
        assert isinstance(out[key], float)
        assert out[names.TARGET_VAL + names.per_joint(name)].shape == (J,)
    per = pdj(pred, gt, labelled, 0.2)
    assert out[names.SELECTION] == pytest.approx(np.mean(per[shared]))
    assert out[names.TARGET_VAL + names.elbows(names.PDJ20)] == pytest.approx(np.mean(per[list(ELBOWS)]))
    assert out[names.TARGET_VAL + names.visible_only(names.PDJ20)] > out[names.SELECTION]
    assert out[names.TARGET_VAL + names.RMSE] == pytest.approx(np.sqrt(34 / 26))  # head-top left out
    assert names.TARGET_VAL + names.PCK05_TLLIB in out
    assert names.TARGET_VAL + names.PCKH50 not in out  # no head sizes: no PCKh
    with_heads = summarize(pred, gt, labelled, visible, 64, 16, head_size=np.array([100.0, 100.0]))
    assert with_heads[names.PCKH50] == pytest.approx(1 - 2 / 28)  # only head-top (100 px off) misses
