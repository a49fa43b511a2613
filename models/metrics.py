"""Pose metrics in numpy (vectorised): PDJ, RMSE, PCK. pred/gt `(N, J, 2)` pixels, visible `(N, J)` bool.

Only visible ground-truth joints count anywhere; predictions are the sub-pixel decoded joints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data_pipeline.joints import ELBOWS, LIMB_JOINTS, TORSO_PAIR


def _errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred and gt must both be (N, J, 2), got {pred.shape} and {gt.shape}")
    return np.linalg.norm(pred - gt, axis=-1)


def _rate(hit: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Per-joint fraction of `hit` among `counted` samples, nan where a joint was never counted."""
    n = counted.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (hit & counted).sum(axis=0) / np.maximum(n, 1), np.nan)


def torso_diameter(gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """‖left shoulder − right hip‖ of the ground truth per sample; nan where either joint is invisible."""
    a, b = TORSO_PAIR
    gt = np.asarray(gt, dtype=np.float64)
    d = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
    ok = np.asarray(visible, dtype=bool)[:, a] & np.asarray(visible, dtype=bool)[:, b] & (d > 0)
    return np.where(ok, d, np.nan)


def pdj(pred, gt, visible, fraction: float, normalizer="torso") -> np.ndarray:
    """Percentage of Detected Joints (Toshev & Szegedy 2014): error < fraction × torso diameter, per joint.

    `normalizer` is "torso" or an `(N,)` array of per-sample lengths. Samples whose normaliser is undefined
    (torso joints invisible) are excluded. Returns `(J,)`, nan for joints never visible.
    """
    err = _errors(pred, gt)
    visible = np.asarray(visible, dtype=bool)
    if isinstance(normalizer, str):
        if normalizer != "torso":
            raise ValueError(f"unknown PDJ normalizer {normalizer!r}: use 'torso' or an (N,) array")
        scale = torso_diameter(gt, visible)
    else:
        scale = np.asarray(normalizer, dtype=np.float64).reshape(-1)
    counted = visible & np.isfinite(scale)[:, None]
    with np.errstate(invalid="ignore"):
        hit = err < fraction * scale[:, None]
    return _rate(hit, counted)


def rmse(pred, gt, visible) -> float:
    """Root mean squared Euclidean joint error over all visible joints (pixels); nan if none is visible."""
    err = _errors(pred, gt)
    visible = np.asarray(visible, dtype=bool)
    if not visible.any():
        return float("nan")
    return float(np.sqrt(np.mean(err[visible] ** 2)))


def pck_per_joint(pred, gt, visible, fraction: float = 0.05, size: float = 256.0) -> np.ndarray:
    """Per-joint PCK with a fixed threshold fraction × size (image-normalised); `(J,)`, nan if never visible."""
    err = _errors(pred, gt)
    return _rate(err < fraction * float(size), np.asarray(visible, dtype=bool))


def pck(
    pred, gt, visible, fraction: float = 0.05, size: float = 256.0, joints: Sequence[int] = LIMB_JOINTS
) -> float:
    """PCK@fraction normalised by the crop side, averaged over `joints` (default: the 12 limb joints)."""
    per_joint = pck_per_joint(pred, gt, visible, fraction, size)[list(joints)]
    return _nanmean(per_joint)


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


FRACTIONS = {"05": 0.05, "20": 0.2, "40": 0.4}


def summarize(pred, gt, visible, input_size: int, prefix: str = "") -> dict:
    """Contract-C metrics under `prefix`: pdj05/20/40 (+ `_elbows`), rmse, pck05 as floats, and per-joint
    `(J,)` arrays under `{prefix}pdj05_per_joint` … and `{prefix}pck05_per_joint` for per-joint plots."""
    out: dict = {}
    for tag, fraction in FRACTIONS.items():
        per_joint = pdj(pred, gt, visible, fraction)
        out[f"{prefix}pdj{tag}"] = _nanmean(per_joint)
        out[f"{prefix}pdj{tag}_elbows"] = _nanmean(per_joint[list(ELBOWS)])
        out[f"{prefix}pdj{tag}_per_joint"] = per_joint
    out[f"{prefix}rmse"] = rmse(pred, gt, visible)
    out[f"{prefix}pck05"] = pck(pred, gt, visible, 0.05, input_size)
    out[f"{prefix}pck05_per_joint"] = pck_per_joint(pred, gt, visible, 0.05, input_size)
    return out


def scalars(metrics: dict) -> dict:
    """The float entries of a metrics dict (drops per-joint arrays): what gets reported each epoch."""
    return {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
