"""Procedural demo data: synthetic articulated people written in SURREAL's format (source) and LSP's (target).

The body is a 3D stick skeleton with SMPL's 24 joints, posed by a few angles per limb, seen through
SURREAL's camera (K = [[600,0,160],[0,600,120],[0,0,1]], whose rotation is a reflection, so SMPL's L_* joints
land where an annotator labels the person's right). Each of SMPL's 24 parts is a filled ellipse around its
bone, drawn far to near (painter's order), which gives the part-id map `segm` and natural self-occlusion.

The two domains share the pose distribution and differ in looks:
- source (SURREAL-like): flat-coloured clothing, soft rounded shading, the person's brightness drawn
  independently of the background (SURREAL composites renders onto unrelated photos), indoor-style
  backgrounds (gradients, smooth noise, rectangles and discs), 320x240 frames, hard silhouette edges,
  mp4-compressed clips of 10-30 frames that animate smoothly.
- target (LSP-like), by named factors with a strength knob each (data_pipeline.shift.DomainShift; 0 = as
  the source, 1 = default): lighting (scene and person lit by one illuminant: level, colour cast,
  direction), background (outdoor scenes, limb-like clutter), texture (striped, checked, noisy clothing),
  occluders (objects in front of the person), degradation (blur, sensor noise, JPEG) and framing (tight,
  tilted, person sizes unlike the source camera's).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyarrow.fs as pafs
import scipy.io

from data_pipeline.joints import SMPL24, SMPL24_TO_LSP14
from data_pipeline.outputs import check_kind, check_output
from data_pipeline.shift import (
    DomainShift,
    degrade,
    directional_shade,
    draw_clutter,
    draw_occluders,
    factor_streams,
    illuminant,
    jpeg_quality,
    lerp,
)

# SURREAL's render camera (DESIGN.md): 320x240 at 30 fps, focal 600 px, principal point at the centre.
FRAME_SIZE = (320, 240)  # (width, height)
FPS = 30
DEMO_PARTS = ("surreal", "lsp")
DEMO_MARKER = "posetune-demo.json"  # in each part: marks a set write_demo wrote (and may replace)
FOCAL = 600.0
CENTER = (160.0, 120.0)
_J = {name: i for i, name in enumerate(SMPL24)}

# SMPL's 24 parts, one per joint (segm value = part index + 1): (start joint, end joint, radius in metres).
# End "-1" means a blob around the start joint; hands and feet extend a little past their end joints.
PARTS: tuple[tuple[int, int, float], ...] = (
    (_J["L_Hip"], _J["R_Hip"], 0.115),  # 0 Pelvis
    (_J["L_Hip"], _J["L_Knee"], 0.085),  # 1 L_Hip: thigh
    (_J["R_Hip"], _J["R_Knee"], 0.085),  # 2 R_Hip
    (_J["Pelvis"], _J["Spine1"], 0.125),  # 3 Spine1: belly
    (_J["L_Knee"], _J["L_Ankle"], 0.06),  # 4 L_Knee: shin
    (_J["R_Knee"], _J["R_Ankle"], 0.06),  # 5 R_Knee
    (_J["Spine1"], _J["Spine2"], 0.14),  # 6 Spine2
    (_J["L_Ankle"], _J["L_Foot"], 0.045),  # 7 L_Ankle: foot
    (_J["R_Ankle"], _J["R_Foot"], 0.045),  # 8 R_Ankle
    (_J["Spine2"], _J["Spine3"], 0.155),  # 9 Spine3: chest
    (_J["L_Foot"], -1, 0.035),  # 10 L_Foot: toes
    (_J["R_Foot"], -1, 0.035),  # 11 R_Foot
    (_J["Spine3"], _J["Neck"], 0.055),  # 12 Neck
    (_J["L_Collar"], _J["L_Shoulder"], 0.07),  # 13 L_Collar
    (_J["R_Collar"], _J["R_Shoulder"], 0.07),  # 14 R_Collar
    (_J["Head"], -2, 0.095),  # 15 Head: from the head centre to the head top (-2)
    (_J["L_Shoulder"], _J["L_Elbow"], 0.052),  # 16 L_Shoulder: upper arm
    (_J["R_Shoulder"], _J["R_Elbow"], 0.052),  # 17 R_Shoulder
    (_J["L_Elbow"], _J["L_Wrist"], 0.042),  # 18 L_Elbow: forearm
    (_J["R_Elbow"], _J["R_Wrist"], 0.042),  # 19 R_Elbow
    (_J["L_Wrist"], _J["L_Hand"], 0.036),  # 20 L_Wrist: palm
    (_J["R_Wrist"], _J["R_Hand"], 0.036),  # 21 R_Wrist
    (_J["L_Hand"], -1, 0.03),  # 22 L_Hand: fingers
    (_J["R_Hand"], -1, 0.03),  # 23 R_Hand
)
SKIN_PARTS = (12, 15, 20, 21, 22, 23)
SHIRT_PARTS = (3, 6, 9, 13, 14, 16, 17)
SLEEVE_PARTS = (18, 19)  # shirt or skin (short sleeves)
PANTS_PARTS = (0, 1, 2)
SHIN_PARTS = (4, 5)  # pants or skin (shorts)
SHOE_PARTS = (7, 8, 10, 11)

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
        j[_J[f"{side}_Hip"]] = (sign * hw, -0.07 * s, 0.0)
        thigh = _rot_x(-p[f"{key}_leg_flex"]) @ _rot_z(sign * p[f"{key}_leg_abd"]) @ down
        j[_J[f"{side}_Knee"]] = j[_J[f"{side}_Hip"]] + 0.42 * s * thigh
        shin = _bend(thigh, -fwd, p[f"{key}_knee"])
        j[_J[f"{side}_Ankle"]] = j[_J[f"{side}_Knee"]] + 0.42 * s * shin
        j[_J[f"{side}_Foot"]] = j[_J[f"{side}_Ankle"]] + 0.13 * s * np.array([0.0, -0.35, 0.94])
    # Upper body, built upright, then leaned about the pelvis.
    up = np.zeros(24, dtype=bool)
    for name, y in (("Spine1", 0.11), ("Spine2", 0.24), ("Spine3", 0.38), ("Neck", 0.53)):
        j[_J[name]] = (0.0, y * s, 0.0)
        up[_J[name]] = True
    head_rot = _rot_z(p["head_tilt"])
    j[_J["Head"]] = j[_J["Neck"]] + head_rot @ np.array([0.0, 0.13 * s, 0.02 * s])
    head_top = j[_J["Neck"]] + head_rot @ np.array([0.0, 0.25 * s, 0.0])
    head_fwd = head_rot @ fwd
    up[_J["Head"]] = True
    for side, sign in (("L", 1.0), ("R", -1.0)):
        key = side.lower()
        j[_J[f"{side}_Collar"]] = (sign * 0.07 * s, 0.47 * s, 0.0)
        j[_J[f"{side}_Shoulder"]] = (sign * sw, 0.45 * s, 0.0)
        upper = _rot_x(-p[f"{key}_arm_flex"]) @ _rot_z(sign * p[f"{key}_arm_abd"]) @ down
        j[_J[f"{side}_Elbow"]] = j[_J[f"{side}_Shoulder"]] + 0.29 * s * upper
        fore = _bend(upper, fwd, p[f"{key}_elbow"])
        j[_J[f"{side}_Wrist"]] = j[_J[f"{side}_Elbow"]] + 0.25 * s * fore
        j[_J[f"{side}_Hand"]] = j[_J[f"{side}_Wrist"]] + 0.08 * s * fore
        for name in ("Collar", "Shoulder", "Elbow", "Wrist", "Hand"):
            up[_J[f"{side}_{name}"]] = True
    lean = _rot_x(-p["lean_fwd"]) @ _rot_z(p["lean_side"])
    j[up] = j[up] @ lean.T
    head_top, head_fwd = lean @ head_top, lean @ head_fwd
    yaw = _rot_y(p["yaw"])
    return j @ yaw.T, yaw @ head_top, yaw @ head_fwd


def project(points: np.ndarray, cam_loc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SURREAL's camera: at `cam_loc`, looking down -Z with Y up, through a reflection (x_c = -(X - cx)).

    Returns pixel coordinates (..., 2) (0-based, x then y) and depths z_c (...,).
    """
    rel = np.asarray(points, dtype=np.float64) - np.asarray(cam_loc, dtype=np.float64).reshape(3)
    zc = -rel[..., 2]
    uv = np.stack([FOCAL * (-rel[..., 0]) / zc + CENTER[0], FOCAL * (-rel[..., 1]) / zc + CENTER[1]], axis=-1)
    return uv, zc


def backproject(u: float, v: float, depth: float, cam_loc: np.ndarray) -> np.ndarray:
    """The world point that `project` sends to pixel (u, v) at depth `depth`."""
    cam = np.asarray(cam_loc, dtype=np.float64).reshape(3)
    return cam + np.array([-(u - CENTER[0]) * depth / FOCAL, -(v - CENTER[1]) * depth / FOCAL, -depth])


# --- rendering -------------------------------------------------------------------------------------------

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def _part_geometry(
    uv: np.ndarray, zc: np.ndarray, head_top_uv: np.ndarray, px_per_m: np.ndarray
) -> list[tuple[int, float, tuple, tuple, float]]:
    """Each part as an ellipse (part, depth, centre, half-axes, angle in degrees), sorted far to near."""
    out = []
    for part, (a, b, radius) in enumerate(PARTS):
        pa = uv[a]
        pb = head_top_uv if b == -2 else (uv[a] if b == -1 else uv[b])
        depth = zc[a] if b < 0 else 0.5 * (zc[a] + zc[b])
        r = radius * px_per_m[a]
        if b == -2:  # the head: an ellipse from below the head centre to the head top
            d = pb - pa
            pa = pa - 0.45 * d
        d = pb - pa
        length = float(np.hypot(*d))
        centre = (pa + pb) / 2
        angle = float(np.degrees(np.arctan2(d[1], d[0]))) if length > 1e-6 else 0.0
        half_long = max(length / 2 + 0.35 * r, r) if b != -2 else max(length / 2, r)
        out.append((part, float(depth), tuple(centre), (half_long, r), angle))
    out.sort(key=lambda item: -item[1])
    return out


def render_segm(geometry: list, shape: tuple[int, int]) -> np.ndarray:
    """Draw parts far to near into a (H, W) uint8 map of SURREAL part ids (0 background, 1..24)."""
    segm = np.zeros(shape, dtype=np.uint8)
    for part, _, centre, axes, angle in geometry:
        c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
        ax = (max(round(axes[0] * _ONE), 1), max(round(axes[1] * _ONE), 1))
        cv2.ellipse(segm, c, ax, angle, 0, 360, part + 1, -1, cv2.LINE_8, _SHIFT)
    return segm


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a small random grid upsampled bicubically."""
    h, w = shape
    grid = rng.random((max(cells * h // max(w, 1), 2), max(cells, 2))).astype(np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def _random_colour(rng: np.random.Generator, sat=(0.2, 0.9), val=(0.25, 0.95)) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def source_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Indoor-style: a two-colour gradient, smooth noise, and a few flat rectangles and discs."""
    h, w = shape
    c0, c1 = _random_colour(rng), _random_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(angle) * xs / w + np.sin(angle) * ys / h + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    img *= (0.7 + 0.6 * _smooth_noise(rng, shape, int(rng.integers(3, 9))))[..., None]
    for _ in range(int(rng.integers(2, 7))):
        colour = tuple(float(v) for v in _random_colour(rng))
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        if rng.random() < 0.6:
            # the max() keeps tightly framed targets (a frame under 30 px a side) drawable; the source's
            # 320x240 frames draw exactly as before
            x1 = x0 + int(rng.integers(15, max(16, w // 2)))
            y1 = y0 + int(rng.integers(15, max(16, h // 2)))
            cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1)
        else:
            cv2.circle(img, (x0, y0), int(rng.integers(8, max(9, h // 3))), colour, -1, cv2.LINE_AA)
    return np.clip(img, 0, 255)


def outdoor_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Outdoor-style: sky above a horizon, a textured ground, blurred blobs (trees, walls); unlit (the
    scene's light is the lighting factor's, `shift.directional_shade`)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = rng.uniform(0.25, 0.65) * h
    sky = np.array([rng.uniform(120, 200), rng.uniform(160, 220), rng.uniform(200, 255)], np.float32)
    ground = _random_colour(rng, sat=(0.2, 0.7), val=(0.3, 0.7))
    t = np.clip(ys / max(horizon, 1), 0, 1)[..., None]
    img = sky * (0.75 + 0.25 * t)
    fine = _smooth_noise(rng, shape, int(rng.integers(20, 60)))
    grain = rng.random(shape, dtype=np.float32)
    ground_tex = ground * (0.6 + 0.3 * fine + 0.2 * grain)[..., None]
    img = np.where((ys > horizon)[..., None], ground_tex, img)
    for _ in range(int(rng.integers(1, 5))):
        colour = tuple(float(v) for v in _random_colour(rng, sat=(0.3, 0.8), val=(0.15, 0.6)))
        centre = (int(rng.integers(0, w)), int(horizon + rng.uniform(-0.3, 0.05) * h))
        axes = (int(rng.integers(10, w // 2)), int(rng.integers(10, h // 3)))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.0))
    return np.clip(img, 0, 255).astype(np.float32)


@dataclass(frozen=True)
class Outfit:
    """Colours per SURREAL part (25, 3) RGB floats; index 0 unused (background)."""

    colours: np.ndarray
    hair: np.ndarray
    name: str


def sample_outfit(rng: np.random.Generator) -> Outfit:
    skin = np.array([rng.uniform(90, 240), 0, 0], np.float32)
    skin[1], skin[2] = skin[0] * rng.uniform(0.65, 0.8), skin[0] * rng.uniform(0.5, 0.65)
    shirt, pants, shoes = _random_colour(rng), _random_colour(rng), _random_colour(rng, val=(0.1, 0.4))
    colours = np.zeros((25, 3), np.float32)
    long_sleeves, shorts = rng.random() < 0.5, rng.random() < 0.3
    for part in range(24):
        if part in SKIN_PARTS:
            colour = skin
        elif part in SHIRT_PARTS or (part in SLEEVE_PARTS and long_sleeves):
            colour = shirt
        elif part in SLEEVE_PARTS:
            colour = skin
        elif part in PANTS_PARTS or (part in SHIN_PARTS and not shorts):
            colour = pants
        elif part in SHIN_PARTS:
            colour = skin
        else:
            colour = shoes
        colours[part + 1] = colour
    hair = _random_colour(rng, sat=(0.1, 0.6), val=(0.05, 0.5))
    name = f"procedural/{'long' if long_sleeves else 'short'}sleeves_{'shorts' if shorts else 'trousers'}"
    return Outfit(colours, hair, name)


def _texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A clothing texture multiplier around 1: stripes, checks or coarse noise."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = rng.integers(0, 3)
    period = rng.uniform(4, 12)
    angle = rng.uniform(0, np.pi)
    u = (np.cos(angle) * xs + np.sin(angle) * ys) / period
    if kind == 0:
        return 0.75 + 0.5 * (np.sin(2 * np.pi * u) > 0)
    if kind == 1:
        v = (-np.sin(angle) * xs + np.cos(angle) * ys) / period
        return 0.8 + 0.4 * ((np.floor(u) + np.floor(v)) % 2)
    return 0.7 + 0.6 * _smooth_noise(rng, shape, max(w // 6, 2))


def colour_person(
    segm: np.ndarray,
    outfit: Outfit,
    brightness: float,
    face: tuple | None,
    texture: np.ndarray | None = None,
    light: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """RGB float person layer and its mask: part colours x rounded shading x part outlines (x texture,
    x directional light). `face` = (eye_a, eye_b, radius, facing_camera, head_centre, head_radius)."""
    mask = segm != 0
    person = outfit.colours[segm]
    if texture is not None:
        clothing = np.isin(segm, [p + 1 for p in range(24) if p not in SKIN_PARTS])
        person = np.where(clothing[..., None], person * texture[..., None], person)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    rounded = 0.55 + 0.45 * np.sqrt(np.clip(dist / 6.0, 0, 1))
    outline = np.ones_like(rounded)
    edge = np.zeros_like(mask)
    edge[:, 1:] |= segm[:, 1:] != segm[:, :-1]
    edge[1:, :] |= segm[1:, :] != segm[:-1, :]
    outline[edge & mask] = 0.8
    shade = rounded * outline * brightness
    if light is not None:
        h, w = segm.shape
        ys, xs = np.nonzero(mask)
        if len(xs):
            cx, cy, size = xs.mean(), ys.mean(), max(np.ptp(xs), np.ptp(ys), 1)
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            shade = shade * (1 + 0.5 * ((xx - cx) * light[0] + (yy - cy) * light[1]) / size)
    person = person * shade[..., None]
    if face is not None:
        eye_a, eye_b, eye_r, facing, head_c, head_r = face
        if facing:
            for eye in (eye_a, eye_b):
                cv2.circle(
                    person,
                    _pt(eye),
                    max(round(eye_r * _ONE), _ONE),
                    (20.0, 15.0, 10.0),
                    -1,
                    cv2.LINE_AA,
                    _SHIFT,
                )
        else:  # seen from behind: hair over the head
            hair_mask = np.zeros(segm.shape, np.uint8)
            cv2.circle(hair_mask, _pt(head_c), round(head_r * _ONE), 1, -1, cv2.LINE_8, _SHIFT)
            sel = (hair_mask > 0) & (segm == 16)
            person[sel] = outfit.hair * brightness
    return person, mask


def _pt(p) -> tuple[int, int]:
    return (round(float(p[0]) * _ONE), round(float(p[1]) * _ONE))


def _face(joints3d: np.ndarray, head_fwd: np.ndarray, to_pixels, scale: float, toward_camera: np.ndarray):
    """Eye positions and whether the face looks at the camera (else the back of the head shows)."""
    head = joints3d[_J["Head"]]
    side = np.cross(np.array([0.0, 1.0, 0.0]), head_fwd)
    side /= max(np.linalg.norm(side), 1e-6)
    eyes = [
        head + 0.08 * scale * head_fwd + 0.035 * scale * sgn * side + [0, 0.02 * scale, 0] for sgn in (1, -1)
    ]
    (eye_a, eye_b, centre), px_per_m = to_pixels(np.array([*eyes, head]))
    facing = float(np.dot(head_fwd, toward_camera)) > 0.15
    return eye_a, eye_b, 0.013 * scale * px_per_m[2], facing, centre, 0.09 * scale * px_per_m[2]


# --- source clips (SURREAL format) -----------------------------------------------------------------------


@dataclass
class Clip:
    """One rendered clip: frames (T,H,W,3) uint8 RGB, segm (T,H,W) uint8, and every _info.mat field."""

    frames: np.ndarray
    segm: np.ndarray
    info: dict


def _ease(t: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * t)


def _rotvec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Axis-angle vector rotating direction a onto direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.clip(np.dot(a, b), -1, 1))
    return axis / s * np.arctan2(s, c) if s > 1e-9 else np.zeros(3)


def render_clip(
    rng: np.random.Generator,
    n_frames: int,
    sequence: str,
    clip_no: int,
    poses: tuple[np.ndarray, np.ndarray] | None = None,
    positions: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> Clip:
    """A smooth clip: one body, one outfit, one background; the pose eases from one draw to another with a
    small sway, and the person's pelvis drifts across the frame. `poses` (first, last; over POSE_KEYS, no
    sway then) and `positions` (first, last pelvis pixel) fix what is otherwise drawn at random."""
    w, h = FRAME_SIZE
    body, outfit = sample_body(rng), sample_outfit(rng)
    background = source_background(rng, (h, w))
    pose_a, pose_b = sample_pose(rng), sample_pose(rng)
    pose_b[0] = pose_a[0] + rng.uniform(-0.6, 0.6)  # turn a little, not all the way round
    sway = 0.08
    if poses is not None:
        pose_a, pose_b, sway = np.asarray(poses[0], float), np.asarray(poses[1], float), 0.0
    cam_dist = float(rng.uniform(5.0, 8.0))
    cam_loc = np.array([0.0, 1.0, cam_dist])
    depth = cam_dist  # the person's pelvis sits at Z = 0
    start = np.array([rng.uniform(110, 210), rng.uniform(105, 135)])
    end = start + rng.uniform(-25, 25, size=2)
    if positions is not None:
        start, end = np.asarray(positions[0], float), np.asarray(positions[1], float)
    brightness = float(rng.uniform(0.45, 1.25))  # independent of the background, as in SURREAL
    sway_phase = rng.uniform(0, 2 * np.pi, size=len(POSE_KEYS))
    light = np.concatenate([[brightness], rng.normal(0, 0.3, size=8)])
    t = _ease(np.linspace(0.0, 1.0, n_frames)) if n_frames > 1 else np.zeros(1)
    rest = skeleton(np.zeros(len(POSE_KEYS)), body)[0]

    frames = np.empty((n_frames, h, w, 3), np.uint8)
    segms = np.empty((n_frames, h, w), np.uint8)
    joints2d = np.empty((2, 24, n_frames), np.float32)
    joints3d = np.empty((3, 24, n_frames), np.float32)
    poses = np.zeros((72, n_frames))
    zrot = np.empty((n_frames, 1))
    for f in range(n_frames):
        pose = (1 - t[f]) * pose_a + t[f] * pose_b
        pose[1:] += sway * np.sin(2 * np.pi * f / 15.0 + sway_phase[1:])
        pos = (1 - t[f]) * start + t[f] * end
        pelvis = backproject(pos[0], pos[1], depth, cam_loc)
        local, head_top, head_fwd = skeleton(pose, body)
        world = local + pelvis
        uv, zc = project(world, cam_loc)
        top_uv, _ = project(head_top + pelvis, cam_loc)
        geometry = _part_geometry(uv, zc, top_uv, FOCAL / zc)
        segm = render_segm(geometry, (h, w))

        def to_pixels(points, pelvis=pelvis):
            p_uv, p_z = project(points + pelvis, cam_loc)
            return p_uv, FOCAL / p_z

        face = _face(local, head_fwd, to_pixels, body.scale, toward_camera=np.array([0.0, 0.0, 1.0]))
        person, mask = colour_person(segm, outfit, brightness, face)
        frames[f] = np.where(mask[..., None], np.clip(person, 0, 255), background).astype(np.uint8)
        segms[f] = segm
        joints2d[:, :, f] = uv.T
        joints3d[:, :, f] = world.T
        zrot[f, 0] = pose[0]
        poses[0:3, f] = (0.0, pose[0], 0.0)
        for part, (a, b, _) in enumerate(PARTS):
            if b >= 0 and part > 0:
                poses[3 * part : 3 * part + 3, f] = _rotvec(rest[b] - rest[a], local[b] - local[a])
    # The SMPL-specific fields are stand-ins with the real shapes and dtypes: `pose` holds the global yaw
    # (0:3) and, per part, the rotation vector taking its rest bone to its posed bone (global, not
    # parent-relative as in SMPL); `shape` betas 0/1 carry height and gender; light[0] is the brightness.
    shape = np.zeros((10, n_frames))
    shape[0], shape[1] = (body.scale - 1.0) * 10, 1.0 if body.gender else -1.0
    bg_name = f"procedural/indoor_{int(rng.integers(0, 10**6)):06d}.jpg"
    info = {
        "joints2D": joints2d,
        "joints3D": joints3d,
        "pose": poses,
        "shape": shape,
        "zrot": zrot,
        "light": np.repeat(light[:, None], n_frames, axis=1),
        "camLoc": cam_loc.reshape(3, 1),
        "camDist": np.array([[cam_dist]]),
        "gender": np.full((n_frames, 1), body.gender, dtype=np.uint8),
        "clipNo": np.array([[clip_no]], dtype=np.uint8),
        "stride": np.array([[50]], dtype=np.uint8),
        "sequence": f"{sequence}_c{clip_no:04d}",
        "source": "cmu",
        "bg": _cell_row([bg_name] * n_frames),
        "cloth": _cell_row([outfit.name] * n_frames),
    }
    return Clip(frames, segms, info)


def _cell_row(strings: list[str]) -> np.ndarray:
    """A (1, T) object array of strings, which scipy.io.savemat writes as a MATLAB cell array."""
    cell = np.empty((1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        cell[0, i] = s
    return cell


_FOURCC: str | None = None


def video_fourcc() -> str:
    """The first fourcc OpenCV can write here: H.264 ('avc1', as the real files) else MPEG-4 ('mp4v')."""
    global _FOURCC
    if _FOURCC is None:
        probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"posetune_fourcc_{os.getpid()}.mp4"
        for fourcc in ("avc1", "mp4v"):
            with _quiet_stderr():
                writer = cv2.VideoWriter(str(probe), cv2.VideoWriter_fourcc(*fourcc), FPS, FRAME_SIZE)
                ok = writer.isOpened()
                writer.release()
            probe.unlink(missing_ok=True)
            if ok:
                _FOURCC = fourcc
                break
        else:
            raise RuntimeError("OpenCV can write neither avc1 nor mp4v video here")
    return _FOURCC


class _quiet_stderr:
    """Silence FFmpeg's encoder probing messages, which bypass Python's sys.stderr."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)


def write_clip(clip: Clip, directory: Path) -> Path:
    """Write <seq>_c%04d.mp4, _info.mat and _segm.mat as SURREAL lays them out; returns the mp4 path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = clip.info["sequence"]
    mp4 = directory / f"{stem}.mp4"
    writer = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*video_fourcc()), FPS, FRAME_SIZE)
    for frame in clip.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    scipy.io.savemat(directory / f"{stem}_info.mat", clip.info, do_compression=True)
    segm = {f"segm_{i + 1}": s for i, s in enumerate(clip.segm)}
    scipy.io.savemat(directory / f"{stem}_segm.mat", segm, do_compression=True)
    return mp4


# --- target images (LSP format) --------------------------------------------------------------------------


def render_target(
    rng: np.random.Generator, shift: DomainShift | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One real-looking image (H,W,3) uint8 RGB with LSP-14 joints (14,2) and occluded flags (14,) bool.

    `shift` sets how far it departs from the source, factor by factor (data_pipeline.shift; default: every
    factor at its default strength). At every strength 0 it is rendered like a source frame: the same
    camera, placement, indoor background, independent brightness and flat clothing. The person is seen
    through the same reflected camera as the source, so LSP's right_* joints are SMPL's L_* ones
    (SMPL24_TO_LSP14), and LSP's head-top is the top of the head. A joint outside the image is written
    unlabelled (negative coordinates), as the SURREAL reader labels only joints in the frame.
    """
    shift = DomainShift() if shift is None else shift
    streams = factor_streams(rng)
    person_rng = streams["person"]
    body, outfit = sample_body(person_rng), sample_outfit(person_rng)
    local, head_top, head_fwd = skeleton(sample_pose(person_rng), body)

    # Framing: the source's camera and placement (render_clip), then zoomed and rolled about the pelvis,
    # and the 320x240 frame pulled in towards a tight box around the person.
    framing, s = streams["framing"], shift.framing
    cam_dist = float(framing.uniform(5.0, 8.0))
    cam_loc = np.array([0.0, 1.0, cam_dist])
    pelvis_px = np.array([framing.uniform(110, 210), framing.uniform(105, 135)])
    pelvis = backproject(pelvis_px[0], pelvis_px[1], cam_dist, cam_loc)
    zoom = float(2.0 ** (s * framing.uniform(-1.5, 0.5)))
    roll = np.radians(s * framing.uniform(-35.0, 35.0))
    margins = framing.uniform(0.02, 0.2, size=4)  # tight framing: left, top, right, bottom x person size
    rot = zoom * np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])

    def place(uv: np.ndarray) -> np.ndarray:
        return (np.asarray(uv) - pelvis_px) @ rot.T + pelvis_px

    uv, zc = project(local + pelvis, cam_loc)
    uv = place(uv)
    top_uv = place(project(head_top + pelvis, cam_loc)[0])
    px_per_m = FOCAL / zc * zoom
    radius = np.array([PARTS[i][2] for i in range(24)]) * px_per_m
    lo = np.minimum((uv - radius[:, None]).min(0), top_uv)
    hi = np.maximum((uv + radius[:, None]).max(0), top_uv)
    size = hi - lo
    frame_w, frame_h = FRAME_SIZE
    left, top = lerp(0.0, lo[0] - margins[0] * size[0], s), lerp(0.0, lo[1] - margins[1] * size[1], s)
    right = lerp(frame_w, hi[0] + margins[2] * size[0], s)
    bottom = lerp(frame_h, hi[1] + margins[3] * size[1], s)
    w, h = max(int(np.ceil(right - left)), 16), max(int(np.ceil(bottom - top)), 16)
    offset = -np.array([float(left), float(top)])
    uv, top_uv = uv + offset, top_uv + offset
    segm = render_segm(_part_geometry(uv, zc, top_uv, px_per_m), (h, w))

    def to_pixels(points):
        p_uv, p_z = project(points + pelvis, cam_loc)
        return place(p_uv) + offset, FOCAL / p_z * zoom

    face = _face(local, head_fwd, to_pixels, body.scale, toward_camera=np.array([0.0, 0.0, 1.0]))

    # Background: an indoor scene like the source's, or (with probability = strength) an outdoor one,
    # plus limb-like clutter in skin and clothing colours.
    bg, b = streams["background"], shift.background
    outdoor = bg.random() < b
    scene_rng = np.random.default_rng(bg.integers(2**32))
    background = outdoor_background(scene_rng, (h, w)) if outdoor else source_background(scene_rng, (h, w))
    palette = sample_outfit(bg).colours[1:]
    limb_px = 0.4 * float(np.median(px_per_m))
    background = draw_clutter(background.astype(np.float32), bg, int(bg.binomial(4, b)), limb_px, palette)

    # Lighting: the source draws the person's level independently of the scene; the target lights scene
    # and person by one illuminant (direction, level, colour cast).
    lighting, lit = streams["lighting"], shift.lighting
    independent = float(lighting.uniform(0.45, 1.25))
    direction, gains = illuminant(lighting)
    jitter = float(lighting.uniform(0.85, 1.15))
    background = background * directional_shade((h, w), direction, 0.4 * lit)[..., None]
    consistent = float(np.clip(background.mean() / 128.0 * jitter, 0.4, 1.4))
    brightness = float(lerp(independent, consistent, lit))

    texture = _texture(streams["texture"], (h, w))
    person, mask = colour_person(
        segm, outfit, brightness, face,
        texture=None if shift.texture == 0 else 1.0 + shift.texture * (texture - 1.0),
        light=None if lit == 0 else direction * lit,
    )  # fmt: skip
    image = np.where(mask[..., None], np.clip(person, 0, 255), background).astype(np.float32)
    ys, xs = np.nonzero(mask)
    box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())) if len(xs) else (0, 0, w - 1, h - 1)
    image, occluder = draw_occluders(image, box, streams["occluders"], shift.occluders)
    image = image * lerp(np.ones(3), gains, lit).astype(np.float32)
    image = degrade(image, streams["degradation"], shift.degradation, float(size[1]))
    image = np.clip(image, 0, 255).astype(np.uint8)

    joints = np.empty((14, 2), np.float32)
    joints[:13] = uv[SMPL24_TO_LSP14[:13]]
    joints[13] = top_uv
    occluded = _occluded(segm, joints, SMPL24_TO_LSP14)
    px = np.floor(joints + 0.5).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    occluded[inside] |= occluder[px[inside, 1], px[inside, 0]]
    joints[~inside] = -1.0
    occluded[~inside] = False
    return image, joints, occluded


def _occluded(segm: np.ndarray, joints: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """A joint is occluded when the part drawn at its pixel is not one of the parts meeting at the joint."""
    h, w = segm.shape
    out = np.zeros(len(joints), dtype=bool)
    for k, (x, y) in enumerate(joints):
        xi, yi = round(float(x)), round(float(y))
        if not (0 <= xi < w and 0 <= yi < h):
            continue
        here = int(segm[yi, xi])
        smpl = _J["Head"] if k == 13 else int(mapping[k])
        own = {p + 1 for p, (a, b, _) in enumerate(PARTS) if smpl in (a, b)}
        if smpl == _J["Neck"]:
            own |= {_J["Head"] + 1}
        out[k] = here != 0 and here not in own
    return out


# --- the whole demo --------------------------------------------------------------------------------------

SOURCE_SPLIT_SHARES = {"train": 0.7, "val": 0.15, "test": 0.15}
TARGET_PER_CLIP = 10


def _split_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Counts per split that add up to `total` (largest remainders first, ties to the earlier split),
    every split non-empty when total >= len(shares)."""
    names = list(shares)
    counts = {name: int(total * shares[name]) for name in names}
    by_remainder = sorted(names, key=lambda n: -(total * shares[n] - counts[n]))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    if total >= len(names):
        for name in names[1:]:
            if counts[name] == 0:
                counts[name], counts[names[0]] = 1, counts[names[0]] - 1
    return counts


def demo_exists(out: str | os.PathLike, shift: DomainShift | None = None) -> bool:
    """Whether `out` holds a complete demo set written by `write_demo` (both parts carry its marker) with
    the domain shift `shift` (default strengths when None)."""
    wanted = (DomainShift() if shift is None else shift).as_dict()
    for part in DEMO_PARTS:
        marker = Path(out) / part / DEMO_MARKER
        try:
            written = json.loads(marker.read_text())
        except (OSError, ValueError):
            return False
        if written.get("shift", DomainShift().as_dict()) != wanted:
            return False
    return True


def _has_demo_marker(fs, path: str) -> bool:
    return fs.get_file_info(f"{path}/{DEMO_MARKER}").type == pafs.FileType.File


def write_demo(
    out: str | os.PathLike,
    clips: int = 24,
    seed: int = 0,
    frames: tuple[int, int] = (10, 30),
    target_images: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
    shift: DomainShift | None = None,
) -> dict:
    """Write the demo source set (out/surreal, SURREAL format) and target set (out/lsp, LSP format).

    `clips` source clips of `frames` (min, max) frames split 70/15/15 into train/val/test, and
    `target_images` (default 10 per clip) LSP-style images split 50/25/25 into adapt/val/test, departing
    from the source by `shift`'s factors (default strengths when None; the source never changes with it).
    Deterministic for `seed`. Returns a summary of what was written.

    Both sets are written into a hidden staging folder inside `out` and renamed into place at the end, so
    an interrupted run leaves no half-written set for a later run to reuse. `overwrite` replaces only
    sets this function wrote before (they carry its marker file); anything else named surreal/ or lsp/
    is refused, never deleted.
    """
    if clips < 1 or frames[0] < 1 or frames[1] < frames[0]:
        raise ValueError(f"need clips >= 1 and 1 <= frames[0] <= frames[1], got {clips} and {frames}")
    out = Path(out)
    check_kind(out, folder=True)
    for part in DEMO_PARTS:
        check_output(out / part, folder=True, overwrite=overwrite, owned=_has_demo_marker)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-staging-", dir=out))
    try:
        shift = DomainShift() if shift is None else shift
        summary = _write_demo_sets(staging, clips, seed, frames, target_images, progress, shift)
        for part in DEMO_PARTS:
            marker = {k: summary[k] for k in ("seed", "clips", "frames", "target_images", "shift")}
            (staging / part / DEMO_MARKER).write_text(json.dumps({"written_by": "posetune", **marker}))
        for part in DEMO_PARTS:  # the new set in place first, the old one deleted after
            if (out / part).exists():
                os.replace(out / part, staging / f"old-{part}")
            os.replace(staging / part, out / part)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary.update(out=str(out), surreal_root=str(out / "surreal"), lsp_root=str(out / "lsp"))
    return summary


def _write_demo_sets(
    out: Path,
    clips: int,
    seed: int,
    frames: tuple[int, int],
    target_images: int | None,
    progress: bool,
    shift: DomainShift,
) -> dict:
    from tqdm import tqdm

    started = time.perf_counter()
    surreal, lsp = out / "surreal", out / "lsp"
    n_target = TARGET_PER_CLIP * clips if target_images is None else target_images
    split_clips = _split_counts(clips, SOURCE_SPLIT_SHARES)
    bar = tqdm(total=clips + n_target, desc="demo data", unit="item", disable=not progress, file=sys.stderr)
    summary: dict = {"out": str(out), "surreal_root": str(surreal), "lsp_root": str(lsp), "seed": seed}
    summary["shift"] = shift.as_dict()
    summary["clips"], summary["frames"] = {}, {}
    index = 0
    for split, n in split_clips.items():
        summary["clips"][split], summary["frames"][split] = n, 0
        for _ in range(n):
            rng = np.random.default_rng([seed, 0, index])
            seq_no, clip_no = (
                index // 2 + 1,
                index % 2 + 1,
            )  # two clips per sequence, as SURREAL's c0001, c0002
            sequence = f"{seq_no:02d}_01"
            n_frames = int(rng.integers(frames[0], frames[1] + 1))
            clip = render_clip(rng, n_frames, sequence, clip_no)
            write_clip(clip, surreal / "cmu" / split / "run0" / sequence)
            summary["frames"][split] += n_frames
            index += 1
            bar.update(1)

    images_dir = lsp / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    joints = np.zeros((3, 14, n_target), np.float64)
    for i in range(n_target):
        rng = np.random.default_rng([seed, 1, i])
        image, j, occluded = render_target(rng, shift)
        quality = jpeg_quality(np.random.default_rng([seed, 2, i]), shift.degradation)
        path = images_dir / f"im{i + 1:04d}.jpg"
        if not cv2.imwrite(
            str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        ):
            raise OSError(f"{path}: could not write JPEG")
        joints[:2, :, i] = j.T
        joints[2, :, i] = occluded
        bar.update(1)
    bar.close()
    scipy.io.savemat(lsp / "joints.mat", {"joints": joints})
    target_counts = _split_counts(n_target, {"adapt": 0.5, "val": 0.25, "test": 0.25})
    ids = iter(range(1, n_target + 1))
    splits = {name: [next(ids) for _ in range(count)] for name, count in target_counts.items()}
    (lsp / "splits.json").write_text(json.dumps(splits))

    summary["target_images"] = {name: len(v) for name, v in splits.items()}
    summary["fourcc"] = video_fourcc()
    summary["bytes"] = {"surreal": _tree_bytes(surreal), "lsp": _tree_bytes(lsp)}
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


