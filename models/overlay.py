"""Predicted (and true) skeletons drawn over images, in numpy/OpenCV: for run reports and W&B panels."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipeline.joints import SKELETON

PRED_COLOUR = (255, 64, 64)  # RGB
TRUE_COLOUR = (64, 255, 64)


def draw_skeleton(
    image: np.ndarray, joints: np.ndarray, visible: np.ndarray, colour=PRED_COLOUR
) -> np.ndarray:
    """A copy of uint8 `(H, W, 3)` `image` with the bones between visible `(J, 2)` joints and a dot per joint."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    radius = max(1, out.shape[0] // 80)
    points = [(int(round(float(x))), int(round(float(y)))) for x, y in np.asarray(joints)]
    for a, b in SKELETON:
        if a < len(points) and b < len(points) and visible[a] and visible[b]:
            cv2.line(out, points[a], points[b], colour, max(1, radius // 2), cv2.LINE_AA)
    for point, vis in zip(points, visible, strict=True):
        if vis:
            cv2.circle(out, point, radius, colour, -1, cv2.LINE_AA)
    return out


def overlay_grid(images, pred, gt=None, visible=None, columns: int = 4) -> np.ndarray:
    """One RGB grid image: each input with its prediction (red) and, if given, the ground truth (green)."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w, _ = images.shape
    visible = np.ones(pred.shape[:2], dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    tiles = []
    for i in range(n):
        tile = images[i]
        if gt is not None:
            tile = draw_skeleton(tile, gt[i], visible[i], TRUE_COLOUR)
        tiles.append(draw_skeleton(tile, pred[i], np.ones(pred.shape[1], dtype=bool), PRED_COLOUR))
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return grid


def write_png(path, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG (OpenCV wants BGR)."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the PNG")
