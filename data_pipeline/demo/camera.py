"""SURREAL's render camera (DESIGN.md): 320x240 at 30 fps, focal 600 px, principal point at the centre, and a
rotation that is a reflection (so SMPL's L_* joints land where an annotator labels the person's right)."""

from __future__ import annotations

import numpy as np

FRAME_SIZE = (320, 240)  # (width, height)
FPS = 30
FOCAL = 600.0
CENTER = (160.0, 120.0)


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
