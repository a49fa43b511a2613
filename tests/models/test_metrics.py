import numpy as np
import pytest

from data_pipeline.joints import ELBOWS
from models.metrics import pck, pdj, rmse, summarize

J = 14


def _case():
    """Two samples; torso diameter (left shoulder 9 -> right hip 2) is 10 px in sample 0, 20 px in sample 1."""
    gt = np.zeros((2, J, 2))
    gt[0, 9], gt[0, 2] = (0, 0), (0, 10)
    gt[1, 9], gt[1, 2] = (0, 0), (0, 20)
    pred = gt.copy()
    pred[:, 0] += (3.0, 0.0)  # joint 0 off by 3 px in both samples
    pred[1, 7] += (0.0, 4.0)  # right elbow off by 4 px in sample 1
    visible = np.ones((2, J), dtype=bool)
    visible[:, 13] = False  # head never visible
    return pred, gt, visible


def test_pdj_per_joint_by_hand():
    pred, gt, visible = _case()
    # fraction 0.2: thresholds 2 px and 4 px. Joint 0 (3 px): missed in sample 0, hit in 1 -> 0.5.
    # Joint 7 (4 px in sample 1): 4 < 4 is false -> missed there, hit (0 px) in sample 0 -> 0.5.
    result = pdj(pred, gt, visible, 0.2)
    assert result[0] == 0.5 and result[7] == 0.5 and result[1] == 1.0
    assert np.isnan(result[13])
    assert pdj(pred, gt, visible, 0.4)[0] == 1.0  # thresholds 4 and 8 px


def test_pdj_excludes_samples_without_a_torso():
    pred, gt, visible = _case()
    visible[0, 2] = False  # sample 0 loses its right hip: only sample 1 counts
    result = pdj(pred, gt, visible, 0.2)
    assert result[0] == 1.0 and result[7] == 0.0
    assert result[2] == 1.0  # the right hip is still visible in sample 1


def test_rmse_by_hand():
    pred, gt, visible = _case()
    # 26 visible joints; squared errors 9 + 9 + 16 -> sqrt(34 / 26).
    assert rmse(pred, gt, visible) == pytest.approx(np.sqrt(34 / 26))
    assert np.isnan(rmse(pred, gt, np.zeros_like(visible)))


def test_pck_uses_the_crop_side_and_limb_joints():
    pred, gt, visible = _case()
    # Threshold 0.05 × 64 = 3.2 px: joint 0 (3 px) hits, the elbow (4 px) misses in sample 1.
    per = np.ones(12)
    per[7] = 0.5
    assert pck(pred, gt, visible, 0.05, 64) == pytest.approx(per.mean())
    assert pck(pred, gt, visible, 0.05, 40) == pytest.approx((10 + 0.5 + 0.0) / 12)  # 2 px threshold


def test_summarize_has_every_contract_key():
    pred, gt, visible = _case()
    out = summarize(pred, gt, visible, 64, "target_val_")
    for tag in ("05", "20", "40"):
        assert isinstance(out[f"target_val_pdj{tag}"], float)
        assert out[f"target_val_pdj{tag}_per_joint"].shape == (J,)
    assert out["target_val_pdj20_elbows"] == pytest.approx(np.mean(pdj(pred, gt, visible, 0.2)[list(ELBOWS)]))
    assert out["target_val_pdj20"] == pytest.approx(np.nanmean(pdj(pred, gt, visible, 0.2)))
    assert {"target_val_rmse", "target_val_pck05", "target_val_pck05_per_joint"} <= set(out)
