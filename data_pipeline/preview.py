"""Pictures of samples for people to look at: skeletons drawn over images, and a grid of samples."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.joints import LSP14, SKELETON

# RGB: the person's right limbs, left limbs, and the centre line (neck, head, across shoulders and hips).
RIGHT_COLOUR = (255, 60, 60)
LEFT_COLOUR = (60, 120, 255)
CENTRE_COLOUR = (255, 220, 40)
MASK_COLOUR = (0, 255, 200)


def _side(joint: int) -> str:
    name = LSP14[joint]
    return "right" if name.startswith("right") else "left" if name.startswith("left") else "centre"


def _bone_colour(a: int, b: int) -> tuple[int, int, int]:
    sides = {_side(a), _side(b)}
    if sides == {"right"}:
        return RIGHT_COLOUR
    if sides == {"left"}:
        return LEFT_COLOUR
    return CENTRE_COLOUR


def draw_skeleton(
    image: np.ndarray,
    joints: np.ndarray,
    visible: np.ndarray,
    colour: tuple[int, int, int] | None = None,
    thickness: int | None = None,
) -> np.ndarray:
    """A copy of `image` (RGB uint8) with the LSP-14 skeleton of `joints` (J, 2) in its pixels.

    Bones join two visible joints; a joint that is not visible but lies in the image is a hollow circle
    (occluded, outside a SURREAL frame, or below a confidence threshold). `colour` None draws right limbs
    red, left limbs blue and the centre yellow; a colour draws everything in it (a prediction, the truth).
    `thickness` None: 2 px, more on big images (4 px at 640 px)."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    h, w = out.shape[:2]
    thickness = thickness or max(2, round(min(h, w) / 160))
    radius = (thickness + 1) * 16  # in 1/16 px: OpenCV's sub-pixel drawing, `shift` = 4 below
    pts = np.round(np.asarray(joints, dtype=np.float64) * 16).astype(np.int64)
    visible = np.asarray(visible, dtype=bool)
    for a, b in SKELETON:
        if visible[a] and visible[b]:
            bone = colour or _bone_colour(a, b)
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), bone, thickness, cv2.LINE_AA, 4)
    for j, (x, y) in enumerate(np.asarray(joints, dtype=np.float64)):
        dot = colour or _bone_colour(j, j)
        if visible[j]:
            cv2.circle(out, tuple(pts[j]), radius, dot, -1, cv2.LINE_AA, 4)
        elif 0 <= x < w and 0 <= y < h and (x, y) != (0, 0):
            cv2.circle(out, tuple(pts[j]), radius, dot, 1, cv2.LINE_AA, 4)
    return out


def write_image(path, rgb: np.ndarray) -> None:
    """Write an RGB image (PNG, or the format the extension names; OpenCV wants BGR)."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise DataError(path, "could not write the image (is the extension .png?)")


def draw_mask_outline(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of `image` with the person mask's outline, to check the mask lines up with the person."""
    out = image.copy()
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, MASK_COLOUR, 1)
    return out


def sample_grid(samples: Sequence, columns: int = 6, cell: int = 200, label: bool = True) -> np.ndarray:
    """One RGB image with each sample letterboxed into a `cell`-pixel square, skeleton (and mask outline
    where there is a mask) drawn at the sample's own resolution first, then its id written under it."""
    rows = max(1, -(-len(samples) // columns))
    grid = np.full((rows * cell, columns * cell, 3), 32, dtype=np.uint8)
    for k, sample in enumerate(samples):
        picture = draw_skeleton(sample.image, sample.joints, sample.visible)
        if sample.mask is not None:
            picture = draw_mask_outline(picture, sample.mask)
        h, w = picture.shape[:2]
        scale = (cell - 14) / max(h, w)
        small = cv2.resize(
            picture, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
        r, c = divmod(k, columns)
        y0, x0 = r * cell + (cell - 14 - small.shape[0]) // 2, c * cell + (cell - small.shape[1]) // 2
        grid[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        if label:
            text = f"{sample.domain}:{sample.id}"[:34]
            cv2.putText(
                grid,
                text,
                (c * cell + 3, (r + 1) * cell - 3),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.33,
                (230, 230, 230),
                1,
                cv2.LINE_AA,
            )
    return grid
