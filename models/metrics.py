"""Pose metrics in numpy (vectorised). pred/gt `(N, J, 2)` pixels; masks `(N, J)` bool; LSP-14 order.

Every metric counts **labelled** ground-truth joints, occluded ones included, as LSP's PCK/PDJ, MPII's PCKh
and COCO's OKS do; a visible-only view is reported beside it under its own name. The one exception is
`pck_tllib`, which reproduces the published SURREAL->LSP protocol, visible joints only. Predictions are
the sub-pixel decoded joints except in `pck_tllib` (argmax cells, as published). Names: models.metric_names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data_pipeline.joints import ELBOWS, LIMB_JOINTS, SHARED_JOINTS, TORSO_PAIR
from models import metric_names as names


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


def torso_diameter(gt: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """‖left shoulder − right hip‖ of the ground truth per sample; nan unless both joints are labelled
    (occluded or not)."""
    a, b = TORSO_PAIR
    gt = np.asarray(gt, dtype=np.float64)
    labelled = np.asarray(labelled, dtype=bool)
    d = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
    return np.where(labelled[:, a] & labelled[:, b] & (d > 0), d, np.nan)


def pdj(pred, gt, labelled, fraction: float, normalizer="torso", counted=None) -> np.ndarray:
    """Percentage of Detected Joints (Toshev & Szegedy 2014): error < fraction × torso diameter, per joint.

    `labelled` `(N, J)` defines the torso; `counted` (default: `labelled`) are the joints scored, e.g. the
    visible ones for the visible-only view. `normalizer` is "torso" or an `(N,)` array of per-sample
    lengths; samples whose normaliser is undefined are left out. Returns `(J,)`, nan where never counted.
    """
    err = _errors(pred, gt)
    labelled = np.asarray(labelled, dtype=bool)
    counted = labelled if counted is None else np.asarray(counted, dtype=bool) & labelled
    if isinstance(normalizer, str):
        if normalizer != "torso":
            raise ValueError(f"unknown PDJ normalizer {normalizer!r}: use 'torso' or an (N,) array")
        scale = torso_diameter(gt, labelled)
    else:
        scale = np.asarray(normalizer, dtype=np.float64).reshape(-1)
    counted = counted & np.isfinite(scale)[:, None]
    with np.errstate(invalid="ignore"):
        hit = err < fraction * scale[:, None]
    return _rate(hit, counted)


def rmse(pred, gt, labelled, joints: Sequence[int] | None = None) -> float:
    """Root mean squared Euclidean joint error over the labelled `joints` (default all), in pixels; nan
    when none is labelled."""
    err = _errors(pred, gt)
    labelled = np.asarray(labelled, dtype=bool)
    if joints is not None:
        err, labelled = err[:, list(joints)], labelled[:, list(joints)]
    if not labelled.any():
        return float("nan")
    return float(np.sqrt(np.mean(err[labelled] ** 2)))


def pckh(pred, gt, labelled, head_size, fraction: float = 0.5) -> np.ndarray:
    """PCKh (Andriluka et al. 2014, MPII): error ≤ fraction × head size, per joint; `head_size` `(N,)` is
    0.6 × the head box's diagonal, in the same pixels as the joints (nan where unknown: sample left out).
    Pooling the counts over joints gives MPII's "Mean" (it weights joints by their counts)."""
    err = _errors(pred, gt)
    size = np.asarray(head_size, dtype=np.float64).reshape(-1)
    counted = np.asarray(labelled, dtype=bool) & (np.isfinite(size) & (size > 0))[:, None]
    with np.errstate(invalid="ignore"):
        hit = err <= fraction * size[:, None]
    return _rate(hit, counted)


def _pooled(hit_rate: np.ndarray, counted: np.ndarray) -> float:
    n = counted.sum(axis=0)
    return float(np.nansum(hit_rate * n) / n.sum()) if n.sum() else float("nan")


def pck_tllib_per_joint(
    pred_cells, gt, visible, input_size: int, heatmap_size: int, fraction: float = 0.05
) -> np.ndarray:
    """PCK as thuml/Transfer-Learning-Library computes its published SURREAL->LSP numbers
    (`tllib/utils/metric/keypoint_detection.accuracy`, commit c4aa59e), per joint:

    - prediction: the argmax cell of the heatmap (`pred_cells` `(N, J, 2)`, integer heatmap x, y);
    - ground truth: the cell its target Gaussian peaks on, int(x / stride + 0.5), not the float label;
    - counted: visible joints only (tllib's LSP reader sets visible = 1 − occluded flag) whose cell lies
      inside the heatmap and at x > 1 and y > 1 (tllib's calc_dists skips the rest);
    - hit: distance < fraction × 10 × (heatmap side / 10) heatmap cells, i.e. 0.05 × 64 = 3.2 cells,
      12.8 px at a 256 px input: the threshold's unit is the input side, not the person.
    tllib averages per batch and then over batches; pooling over the whole split is that average's
    batch-size-independent limit (equal when every joint appears in every batch).
    """
    pred_cells = np.asarray(pred_cells, dtype=np.float64)
    stride = input_size / heatmap_size
    gt_cells = np.floor(np.asarray(gt, dtype=np.float64) / stride + 0.5)
    inside = ((gt_cells >= 0) & (gt_cells < heatmap_size)).all(axis=-1) & (gt_cells > 1).all(axis=-1)
    counted = np.asarray(visible, dtype=bool) & inside
    dist = _errors(pred_cells, gt_cells) / (heatmap_size / 10.0)
    return _rate(dist < fraction * 10.0, counted)


def pck_tllib(pred_cells, gt, visible, input_size: int, heatmap_size: int, fraction: float = 0.05) -> float:
    """tllib's "all": the mean of the per-joint PCK over the 12 limb joints (no head, no neck)."""
    per_joint = pck_tllib_per_joint(pred_cells, gt, visible, input_size, heatmap_size, fraction)
    return _nanmean(per_joint[list(LIMB_JOINTS)])


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def summarize(
    pred,
    gt,
    labelled,
    visible,
    input_size: int,
    heatmap_size: int,
    pred_cells=None,
    head_size=None,
    prefix: str = "",
) -> dict:
    """Every reported metric of one split under `prefix` (names in models.metric_names):

    PDJ@.05/.2/.4 averaged over the shared joints (all but head-top; a joint never labelled on this split,
    like COCO's neck, drops out), over the elbows, and over visible joints only; RMSE over labelled
    shared joints; tllib's PCK@0.05 when `pred_cells` (argmax cells) are given; PCKh@0.5 when some
    `head_size` is known. Per-joint `(J,)` arrays go under `<name>_per_joint` for plots.
    """
    labelled = np.asarray(labelled, dtype=bool)
    shared, elbow = list(SHARED_JOINTS), list(ELBOWS)
    out: dict = {}
    for name, fraction in names.PDJ_FRACTIONS.items():
        per_joint = pdj(pred, gt, labelled, fraction)
        out[prefix + name] = _nanmean(per_joint[shared])
        out[prefix + names.elbows(name)] = _nanmean(per_joint[elbow])
        out[prefix + names.per_joint(name)] = per_joint
        seen = pdj(pred, gt, labelled, fraction, counted=visible)
        out[prefix + names.visible_only(name)] = _nanmean(seen[shared])
    out[prefix + names.RMSE] = rmse(pred, gt, labelled, shared)
    if pred_cells is not None:
        per_joint = pck_tllib_per_joint(pred_cells, gt, visible, input_size, heatmap_size)
        out[prefix + names.PCK05_TLLIB] = _nanmean(per_joint[list(LIMB_JOINTS)])
        out[prefix + names.per_joint(names.PCK05_TLLIB)] = per_joint
    if head_size is not None and np.isfinite(np.asarray(head_size, dtype=np.float64)).any():
        per_joint = pckh(pred, gt, labelled, head_size)
        size_known = np.isfinite(np.asarray(head_size, dtype=np.float64))[:, None]
        out[prefix + names.PCKH50] = _pooled(per_joint, labelled & size_known)
        out[prefix + names.per_joint(names.PCKH50)] = per_joint
    return out


def scalars(metrics: dict) -> dict:
    """The float entries of a metrics dict (drops per-joint arrays): what gets reported each epoch."""
    return {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
