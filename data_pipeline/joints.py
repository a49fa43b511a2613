"""Joint sets and the mappings into the common LSP-14 set that every reader produces.

LSP-14 is the set every target dataset shares, so it is the one the network predicts. Left and
right are the *person's* left and right (the annotator's convention in LSP, MPII and COCO).
"""

from __future__ import annotations

import numpy as np

LSP14: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip",
    "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top",
)  # fmt: skip
LSP14_INDEX: dict[str, int] = {name: i for i, name in enumerate(LSP14)}

# Pairs swapped by a horizontal flip (a mirrored person's right arm is drawn where the left was).
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9))
# FLIP_PERMUTATION[j] is the joint that lands on slot j after a horizontal flip.
FLIP_PERMUTATION = np.arange(len(LSP14))
for _a, _b in FLIP_PAIRS:
    FLIP_PERMUTATION[_a], FLIP_PERMUTATION[_b] = _b, _a
FLIP_PERMUTATION.setflags(write=False)

# Bones to draw a skeleton: legs, hips, arms, shoulders, torso sides, neck and head.
SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (5, 4), (4, 3), (2, 3),
    (6, 7), (7, 8), (11, 10), (10, 9), (8, 9),
    (8, 2), (9, 3), (8, 12), (9, 12), (12, 13),
)  # fmt: skip

# The 12 limb joints (all but neck and head-top): the PCK protocol of the published SURREAL->LSP results.
LIMB_JOINTS: tuple[int, ...] = tuple(range(12))
# The joints the source (SURREAL) labels with the same meaning as the targets: all but head-top (SMPL's
# Head is the head's centre, not its top). "All joints" metrics average over these, so source and target
# numbers describe the same population; COCO targets further lack the neck (nan there, left out of means).
SHARED_JOINTS: tuple[int, ...] = tuple(range(13))
ELBOWS: tuple[int, ...] = (LSP14_INDEX["right_elbow"], LSP14_INDEX["left_elbow"])
# Torso diameter for PDJ (Toshev & Szegedy): ||left shoulder - right hip|| of the ground truth.
TORSO_PAIR: tuple[int, int] = (LSP14_INDEX["left_shoulder"], LSP14_INDEX["right_hip"])

SMPL24: tuple[str, ...] = (
    "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle",
    "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
    "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
)  # fmt: skip

COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

MPII16: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
    "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
    "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip


def _mapping(source: tuple[str, ...], pairs: dict[str, str]) -> np.ndarray:
    """An int array over LSP-14: the source index of each LSP joint, -1 where the source has none."""
    index = {name: i for i, name in enumerate(source)}
    out = np.full(len(LSP14), -1, dtype=np.int64)
    for lsp_name, source_name in pairs.items():
        out[LSP14_INDEX[lsp_name]] = index[source_name]
    out.setflags(write=False)
    return out


# SURREAL renders through a camera whose rotation is a reflection, so SMPL's L_* joints appear where an
# annotator labels the person's *right*: L_Ankle -> right_ankle. Shoulders are SMPL 16/17 (L/R_Shoulder),
# not 13/14, which are the collar bones. SMPL's Head (15) is the head's *centre*, LSP's head-top is the top
# of the skull: no adaptation can close that label shift, so head_top is unlabelled on SURREAL (neither
# supervised nor scored there). SMPL's Neck (12) sits at the base of the neck, a little below LSP's neck
# (MPII's upper neck): kept, as the nearest joint, and named in docs/metrics.md.
SMPL24_TO_LSP14 = _mapping(
    SMPL24,
    {
        "right_ankle": "L_Ankle", "right_knee": "L_Knee", "right_hip": "L_Hip",
        "left_hip": "R_Hip", "left_knee": "R_Knee", "left_ankle": "R_Ankle",
        "right_wrist": "L_Wrist", "right_elbow": "L_Elbow", "right_shoulder": "L_Shoulder",
        "left_shoulder": "R_Shoulder", "left_elbow": "R_Elbow", "left_wrist": "R_Wrist",
        "neck": "Neck",
    },
)  # fmt: skip

# COCO has no neck or head-top: those stay -1 (unlabelled) rather than being invented.
COCO17_TO_LSP14 = _mapping(COCO17, {name: name for name in LSP14[:12]})

MPII16_TO_LSP14 = _mapping(
    MPII16, {**{name: name for name in LSP14[:12]}, "neck": "upper_neck", "head_top": "head_top"}
)


def map_joints(joints: np.ndarray, mapping: np.ndarray, *masks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Take (..., J_src, 2) joints and any (..., J_src) bool masks (labelled, visible) into LSP-14.

    Returns (joints, *masks); a joint the source set lacks (mapping -1) is (0, 0) and False in every mask.
    """
    joints = np.asarray(joints, dtype=np.float32)
    has = mapping >= 0
    safe = np.where(has, mapping, 0)
    out_joints = np.where(has[:, None], joints[..., safe, :], 0.0).astype(np.float32)
    return (out_joints, *(np.asarray(m, dtype=bool)[..., safe] & has for m in masks))


def flip_joints(joints: np.ndarray, width: int, *masks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mirror LSP-14 joints in an image of `width` pixels and swap left/right so names stay true.

    Pixel centres are at integer coordinates, so x maps to (width - 1) - x. Returns (joints, *masks).
    """
    flipped = np.array(joints, dtype=np.float32, copy=True)
    flipped[..., 0] = (width - 1) - flipped[..., 0]
    return (flipped[..., FLIP_PERMUTATION, :], *(np.asarray(m)[..., FLIP_PERMUTATION] for m in masks))
