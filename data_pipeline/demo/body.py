"""The demo person: a 3D stick skeleton with SMPL's 24 joints, its proportions, and the few angles per limb
that pose it (drawn at random or named)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_pipeline.joints import SMPL24

JOINT = {name: i for i, name in enumerate(SMPL24)}  # SMPL joint name -> index

# SMPL's 24 parts, one per joint (segm value = part index + 1): (start joint, end joint, radius in metres).
# End "-1" means a blob around the start joint; hands and feet extend a little past their end joints.
PARTS: tuple[tuple[int, int, float], ...] = (
    (JOINT["L_Hip"], JOINT["R_Hip"], 0.115),  # 0 Pelvis
    (JOINT["L_Hip"], JOINT["L_Knee"], 0.085),  # 1 L_Hip: thigh
    (JOINT["R_Hip"], JOINT["R_Knee"], 0.085),  # 2 R_Hip
    (JOINT["Pelvis"], JOINT["Spine1"], 0.125),  # 3 Spine1: belly
    (JOINT["L_Knee"], JOINT["L_Ankle"], 0.06),  # 4 L_Knee: shin
    (JOINT["R_Knee"], JOINT["R_Ankle"], 0.06),  # 5 R_Knee
    (JOINT["Spine1"], JOINT["Spine2"], 0.14),  # 6 Spine2
    (JOINT["L_Ankle"], JOINT["L_Foot"], 0.045),  # 7 L_Ankle: foot
    (JOINT["R_Ankle"], JOINT["R_Foot"], 0.045),  # 8 R_Ankle
    (JOINT["Spine2"], JOINT["Spine3"], 0.155),  # 9 Spine3: chest
    (JOINT["L_Foot"], -1, 0.035),  # 10 L_Foot: toes
    (JOINT["R_Foot"], -1, 0.035),  # 11 R_Foot
    (JOINT["Spine3"], JOINT["Neck"], 0.055),  # 12 Neck
    (JOINT["L_Collar"], JOINT["L_Shoulder"], 0.07),  # 13 L_Collar
    (JOINT["R_Collar"], JOINT["R_Shoulder"], 0.07),  # 14 R_Collar
    (JOINT["Head"], -2, 0.095),  # 15 Head: from the head centre to the head top (-2)
    (JOINT["L_Shoulder"], JOINT["L_Elbow"], 0.052),  # 16 L_Shoulder: upper arm
    (JOINT["R_Shoulder"], JOINT["R_Elbow"], 0.052),  # 17 R_Shoulder
    (JOINT["L_Elbow"], JOINT["L_Wrist"], 0.042),  # 18 L_Elbow: forearm
    (JOINT["R_Elbow"], JOINT["R_Wrist"], 0.042),  # 19 R_Elbow
    (JOINT["L_Wrist"], JOINT["L_Hand"], 0.036),  # 20 L_Wrist: palm
    (JOINT["R_Wrist"], JOINT["R_Hand"], 0.036),  # 21 R_Wrist
    (JOINT["L_Hand"], -1, 0.03),  # 22 L_Hand: fingers
    (JOINT["R_Hand"], -1, 0.03),  # 23 R_Hand
)

# Pose parameters (radians unless noted) and the ranges they are drawn from; "l_"/"r_" are SMPL's sides.
POSE_RANGES: dict[str, tuple[float, float]] = {
    "lean_side": (-0.2, 0.2),
    "lean_fwd": (-0.15, 0.45),
    "head_tilt": (-0.3, 0.3),
    "l_arm_abd": (-0.5, 2.9),
    "l_arm_flex": (-0.6, 1.6),
    "l_elbow": (0.0, 2.4),
    "r_arm_abd": (-0.5, 2.9),
    "r_arm_flex": (-0.6, 1.6),
    "r_elbow": (0.0, 2.4),
    "l_leg_abd": (-0.15, 0.6),
    "l_leg_flex": (-0.4, 1.6),
    "l_knee": (0.0, 2.0),
    "r_leg_abd": (-0.15, 0.6),
    "r_leg_flex": (-0.4, 1.6),
    "r_knee": (0.0, 2.0),
}
POSE_KEYS: tuple[str, ...] = ("yaw", *POSE_RANGES)


@dataclass(frozen=True)
class Body:
    """Proportions: `scale` = height / 1.7 m; gender 0 female, 1 male (SURREAL's convention)."""

    scale: float = 1.0
    gender: int = 1


def sample_pose(rng: np.random.Generator) -> np.ndarray:
    """One pose vector over POSE_KEYS. Yaw is mostly near-frontal, sometimes any way round."""
    yaw = rng.uniform(-1.0, 1.0) if rng.random() < 0.7 else rng.uniform(-np.pi, np.pi)
    values = [yaw] + [rng.uniform(lo, hi) for lo, hi in POSE_RANGES.values()]
    return np.array(values, dtype=np.float64)


def pose_vector(**values: float) -> np.ndarray:
    """A pose over POSE_KEYS from named values, the rest 0 (standing straight, arms down, facing the camera)."""
    unknown = set(values) - set(POSE_KEYS)
    if unknown:
        raise ValueError(f"unknown pose parameter(s) {sorted(unknown)}; known: {POSE_KEYS}")
    return np.array([float(values.get(key, 0.0)) for key in POSE_KEYS])


def sample_body(rng: np.random.Generator) -> Body:
    return Body(scale=float(rng.uniform(0.85, 1.12)), gender=int(rng.integers(0, 2)))


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _bend(u: np.ndarray, towards: np.ndarray, angle: float) -> np.ndarray:
    """Rotate unit vector u by `angle` in the plane it spans with `towards` (Rodrigues, towards it)."""
    perp = towards - np.dot(towards, u) * u
    norm = np.linalg.norm(perp)
    if norm < 1e-6:  # u is parallel to `towards`: bend about any axis across it
        perp = np.cross(u, [1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.cross(u, [0.0, 1.0, 0.0])
        norm = np.linalg.norm(perp)
    return u * np.cos(angle) + perp / norm * np.sin(angle)


def skeleton(pose: np.ndarray, body: Body) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SMPL-24 joints (24,3) in the body frame (x = SMPL left, y up, z forward, metres, pelvis at 0),
    the head-top point (3,) and the unit forward direction of the head, all after yaw and lean."""
    p = dict(zip(POSE_KEYS, pose, strict=True))
    s = body.scale
    sw = 0.18 * s * (1.06 if body.gender else 0.94)  # shoulder half-width
    hw = 0.09 * s * (0.96 if body.gender else 1.08)  # hip half-width
    down, fwd = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    j = np.zeros((24, 3))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        key = side.lower()
        j[JOINT[f"{side}_Hip"]] = (sign * hw, -0.07 * s, 0.0)
        thigh = _rot_x(-p[f"{key}_leg_flex"]) @ _rot_z(sign * p[f"{key}_leg_abd"]) @ down
        j[JOINT[f"{side}_Knee"]] = j[JOINT[f"{side}_Hip"]] + 0.42 * s * thigh
        shin = _bend(thigh, -fwd, p[f"{key}_knee"])
        j[JOINT[f"{side}_Ankle"]] = j[JOINT[f"{side}_Knee"]] + 0.42 * s * shin
        j[JOINT[f"{side}_Foot"]] = j[JOINT[f"{side}_Ankle"]] + 0.13 * s * np.array([0.0, -0.35, 0.94])
    # Upper body, built upright, then leaned about the pelvis.
    up = np.zeros(24, dtype=bool)
    for name, y in (("Spine1", 0.11), ("Spine2", 0.24), ("Spine3", 0.38), ("Neck", 0.53)):
        j[JOINT[name]] = (0.0, y * s, 0.0)
        up[JOINT[name]] = True
    head_rot = _rot_z(p["head_tilt"])
    j[JOINT["Head"]] = j[JOINT["Neck"]] + head_rot @ np.array([0.0, 0.13 * s, 0.02 * s])
    head_top = j[JOINT["Neck"]] + head_rot @ np.array([0.0, 0.25 * s, 0.0])
    head_fwd = head_rot @ fwd
    up[JOINT["Head"]] = True
    for side, sign in (("L", 1.0), ("R", -1.0)):
        key = side.lower()
        j[JOINT[f"{side}_Collar"]] = (sign * 0.07 * s, 0.47 * s, 0.0)
        j[JOINT[f"{side}_Shoulder"]] = (sign * sw, 0.45 * s, 0.0)
        upper = _rot_x(-p[f"{key}_arm_flex"]) @ _rot_z(sign * p[f"{key}_arm_abd"]) @ down
        j[JOINT[f"{side}_Elbow"]] = j[JOINT[f"{side}_Shoulder"]] + 0.29 * s * upper
        fore = _bend(upper, fwd, p[f"{key}_elbow"])
        j[JOINT[f"{side}_Wrist"]] = j[JOINT[f"{side}_Elbow"]] + 0.25 * s * fore
        j[JOINT[f"{side}_Hand"]] = j[JOINT[f"{side}_Wrist"]] + 0.08 * s * fore
        for name in ("Collar", "Shoulder", "Elbow", "Wrist", "Hand"):
            up[JOINT[f"{side}_{name}"]] = True
    lean = _rot_x(-p["lean_fwd"]) @ _rot_z(p["lean_side"])
    j[up] = j[up] @ lean.T
    head_top, head_fwd = lean @ head_top, lean @ head_fwd
    yaw = _rot_y(p["yaw"])
    return j @ yaw.T, yaw @ head_top, yaw @ head_fwd
