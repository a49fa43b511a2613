"""The study's image enhancements as pure numpy/OpenCV functions (no per-pixel Python loops).

Conventions: images are uint8 (H, W, 3) RGB, masks bool (H, W) person pixels, joints float32 (14, 2)
x, y with pixel centres at integer coordinates, `labelled` and `visible` bool (14,) (visible implies
labelled). No function mutates its inputs; every random choice comes from an explicit
`numpy.random.Generator`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from data_pipeline.joints import FLIP_PERMUTATION, flip_joints

__all__ = [
    "BRIGHTNESS_STEPS",
    "affine_matrix",
    "apply_affine",
    "brightness_mode",
    "center_brightness",
    "crop_around_person",
    "flip",
    "occlude",
    "person_barycenter",
    "person_box",
    "reinhard_transfer",
    "scale_points",
    "warp",
]


# --- Brightness centring (study §2.1) -------------------------------------------------------------


def mean_brightness(image: np.ndarray, pixels: np.ndarray) -> float:
    """Equation (1): B_A = (1 / N_A) * sum over the pixels of A of (R + G + B) / 3."""
    channel_means = cv2.mean(image, mask=pixels.astype(np.uint8))[:3]
    return float(sum(channel_means) / 3.0)


def _split_mask(mask: np.ndarray | None) -> np.ndarray | None:
    """The person mask as bool when it splits the image into person and background, else None."""
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    n_person = int(np.count_nonzero(mask))
    return None if n_person in (0, mask.size) else mask


def center_brightness(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Equation (2): every person pixel becomes RGB - B_person + B_background, clipped to 0..255.

    B_person and B_background are equation (1) over the mask and its complement. The shift is
    added in integer arithmetic after rounding it once, so the result is exact uint8. With no mask,
    an empty mask or an all-person image there is nothing to centre on: the input is returned as is.
    """
    mask = _split_mask(mask)
    if mask is None:
        return image
    shift = round(mean_brightness(image, ~mask) - mean_brightness(image, mask))
    out = image.copy()
    if shift != 0:
        person = out[mask].astype(np.int16) + shift
        out[mask] = np.clip(person, 0, 255).astype(np.uint8)
    return out


def _lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 CIELAB (L in 0..100, a and b about -128..127), OpenCV's D65 conversion."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def reinhard_transfer(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Colour transfer from the background to the person (Reinhard et al. 2001, "Color Transfer between
    Images", section "Statistics and color correction": l' = (σ_t / σ_s)(l − <l_s>) + <l_t> per channel),
    a stronger lighting lever than the study's eq. (2), which moves only the mean of (R+G+B)/3.

    In a decorrelated perceptual space (CIELAB here, as OpenCV computes it, in place of the paper's lαβ),
    every person pixel's channel c becomes (x_c - mean_person_c) * std_background_c / std_person_c +
    mean_background_c: the person takes the background's per-channel mean and spread (brightness,
    contrast and colour cast), then goes back to RGB, rounded and clipped to 0..255. Background pixels are
    returned untouched. A channel the person does not vary in (std 0) only has its mean moved. With no
    mask, an empty mask or an all-person image the input is returned as is (nothing to transfer from/to).
    """
    mask = _split_mask(mask)
    if mask is None:
        return image
    lab = _lab(image)
    person, background = lab[mask], lab[~mask]
    mean_p, std_p = person.mean(axis=0), person.std(axis=0)
    mean_b, std_b = background.mean(axis=0), background.std(axis=0)
    gain = np.where(std_p > 1e-6, std_b / np.maximum(std_p, 1e-6), 1.0)
    moved = ((person - mean_p) * gain + mean_b).astype(np.float32)
    rgb = cv2.cvtColor(moved[None], cv2.COLOR_Lab2RGB)[0]
    out = image.copy()
    out[mask] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return out


# The brightness step of the enhancement, by name (`data.brightness`): none, the study's eq. (1)-(2)
# mean centring, or Reinhard et al.'s per-channel colour transfer. Each is (image, mask) -> image.
BRIGHTNESS_STEPS = {
    "none": lambda image, mask: image,
    "mean": center_brightness,
    "reinhard": reinhard_transfer,
}


def brightness_mode(value: object) -> str:
    """The brightness step a setting names: one of BRIGHTNESS_STEPS, or a boolean as configs and shard
    manifests wrote it before there were variants (true = "mean", the study's centring; false = "none")."""
    if isinstance(value, bool):
        return "mean" if value else "none"
    if isinstance(value, str) and value in BRIGHTNESS_STEPS:
        return value
    raise ValueError(
        f"{value!r} is not a brightness step: use one of {', '.join(BRIGHTNESS_STEPS)} "
        "(true means mean, false means none)"
    )


# --- The person's box and barycenter -----------------------------------------------------------


def person_box(
    mask: np.ndarray | None, joints: np.ndarray, labelled: np.ndarray, shape: tuple[int, ...]
) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1), inclusive pixel bounds of the person: the union of the mask's box and the
    labelled joints' box (occluded joints are part of the person); the whole image when there is neither."""
    xs: list[float] = []
    ys: list[float] = []
    if mask is not None and mask.any():
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        xs += [cols[0], cols[-1]]
        ys += [rows[0], rows[-1]]
    has = np.asarray(labelled, dtype=bool)
    if has.any():
        pts = np.asarray(joints, dtype=np.float32)[has]
        xs += [float(pts[:, 0].min()), float(pts[:, 0].max())]
        ys += [float(pts[:, 1].min()), float(pts[:, 1].max())]
    if not xs:
        return 0.0, 0.0, float(shape[1] - 1), float(shape[0] - 1)
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def person_barycenter(mask: np.ndarray | None, joints: np.ndarray, labelled: np.ndarray) -> np.ndarray | None:
    """The person's barycenter (x, y): the mean of its mask pixels, else of its labelled joints."""
    if mask is not None and mask.any():
        m = cv2.moments(mask.astype(np.uint8), binaryImage=True)
        return np.array([m["m10"] / m["m00"], m["m01"] / m["m00"]])
    has = np.asarray(labelled, dtype=bool)
    if has.any():
        return np.asarray(joints, dtype=np.float64)[has].mean(axis=0)
    return None


# --- Occlusion (study §2.2, Figures 5-6) -----------------------------------------------------------


def _patch_regions(box, ow: int, oh: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Figure 5's available areas: ranges (x_lo, x_hi, y_lo, y_hi) of a patch's top-left corner so that an
    ow x oh patch lies inside the image and entirely above, below, left or right of the person's box."""
    x0, y0, x1, y1 = (
        int(math.floor(box[0])),
        int(math.floor(box[1])),
        int(math.ceil(box[2])),
        int(math.ceil(box[3])),
    )
    regions = [
        (0, width - ow, 0, y0 - oh),  # above
        (0, width - ow, y1 + 1, height - oh),  # below
        (0, x0 - ow, 0, height - oh),  # left
        (x1 + 1, width - ow, 0, height - oh),  # right
    ]
    return [r for r in regions if r[0] <= r[1] and r[2] <= r[3]]


def occlude(
    image: np.ndarray,
    mask: np.ndarray | None,
    joints: np.ndarray,
    visible: np.ndarray,
    rng: np.random.Generator,
    size_range: tuple[float, float] = (0.2, 0.5),
    max_tries: int = 10,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Cover part of the person with a piece of background (the study's Figures 5-6).

    A rectangle is anchored on a random person pixel and extends in a random direction along each
    axis; its sides are U(size_range) times the person's extent (mask box), clipped to the frame. It is
    covered by a same-size patch copied from a region that does not overlap the person's box. Up to
    `max_tries` anchors/sizes are drawn; if no patch fits anywhere the inputs come back unchanged.
    Returns (image, mask, visible): the mask loses the covered pixels, joints under the occluder
    become not visible. They stay labelled: the occluder hides the pixels, not the position (Sárándi et
    al. 2018 keep full supervision under synthetic occluders), so training still asks for them.
    """
    if mask is None or not mask.any():
        return image, mask, visible
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    extent_w, extent_h = box[2] - box[0] + 1, box[3] - box[1] + 1
    for _ in range(max_tries):
        k = int(rng.integers(len(xs)))
        ax, ay = int(xs[k]), int(ys[k])
        ow = max(1, round(rng.uniform(*size_range) * extent_w))
        oh = max(1, round(rng.uniform(*size_range) * extent_h))
        rx0 = ax if rng.random() < 0.5 else ax - ow + 1
        ry0 = ay if rng.random() < 0.5 else ay - oh + 1
        rx0, ry0 = max(rx0, 0), max(ry0, 0)
        rx1, ry1 = min(rx0 + ow, width), min(ry0 + oh, height)
        ow, oh = rx1 - rx0, ry1 - ry0
        regions = _patch_regions(box, ow, oh, width, height)
        if not regions:
            continue
        x_lo, x_hi, y_lo, y_hi = regions[int(rng.integers(len(regions)))]
        px, py = int(rng.integers(x_lo, x_hi + 1)), int(rng.integers(y_lo, y_hi + 1))
        out = image.copy()
        out[ry0:ry1, rx0:rx1] = image[py : py + oh, px : px + ow]
        out_mask = mask.copy()
        out_mask[ry0:ry1, rx0:rx1] = False
        # A pixel i covers [i - 0.5, i + 0.5): a joint is under the rectangle if its pixel is.
        jx, jy = np.floor(joints[:, 0] + 0.5), np.floor(joints[:, 1] + 0.5)
        covered = (jx >= rx0) & (jx < rx1) & (jy >= ry0) & (jy < ry1)
        return out, out_mask, np.asarray(visible, dtype=bool) & ~covered
    return image, mask, visible


# --- One affine warp: crop, scale, rotation, flip ----------------------------------------------------


def affine_matrix(
    center: tuple[float, float] | np.ndarray,
    side: float,
    out_size: int,
    rotation_deg: float = 0.0,
    scale: float = 1.0,
    pivot: tuple[float, float] | np.ndarray | None = None,
    flip: bool = False,
) -> np.ndarray:
    """The (2, 3) matrix taking source pixels to output pixels of one crop.

    The square of `side` source pixels centred on `center` fills the out_size x out_size output
    (pixel centres at integers: q = k (p - c) + (N - 1) / 2 with k = scale * N / side). Before that the
    image is rotated by `rotation_deg` (counter-clockwise on screen, as cv2.getRotationMatrix2D) about
    `pivot` (default: `center`); `scale` > 1 zooms in; `flip` mirrors the output horizontally.
    Compose everything here so an image is resampled once.
    """
    c = np.asarray(center, dtype=np.float64)
    b = c if pivot is None else np.asarray(pivot, dtype=np.float64)
    k = scale * out_size / side
    theta = math.radians(rotation_deg)
    rot = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    linear = k * rot
    offset = k * (b - rot @ b - c) + (out_size - 1) / 2.0
    matrix = np.concatenate([linear, offset[:, None]], axis=1)
    if flip:
        matrix[0] = -matrix[0]
        matrix[0, 2] += out_size - 1
    return matrix


def scale_points(points: np.ndarray, factor: float) -> np.ndarray:
    """Points of an image resized by `factor` (pixel centres at integers, as cv2.resize): (p + ½)·f − ½."""
    return ((np.asarray(points, dtype=np.float64) + 0.5) * factor - 0.5).astype(np.float32)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (J, 2) points through a (2, 3) affine matrix; float32 out."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def _area_prefilter(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """When `matrix` shrinks the image, shrink it first by area averaging (cv2.INTER_AREA, what evaluation's
    resize uses) and return the matrix for the smaller image, so the bilinear warp that follows resamples
    at about 1:1 and does not alias; otherwise (image, matrix) unchanged."""
    k = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if k >= 1.0:
        return image, matrix
    h, w = image.shape[:2]
    new_w, new_h = max(1, round(w * k)), max(1, round(h * k))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / w, new_h / h
    # A pixel q of the small image is (p + 0.5) f - 0.5 of the original: p = (q + 0.5) / f - 0.5.
    back = np.array([[1 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1 / fy, 0.5 / fy - 0.5]])
    combined = np.concatenate(
        [matrix[:, :2] @ back[:, :2], (matrix[:, :2] @ back[:, 2] + matrix[:, 2])[:, None]], 1
    )
    return small, combined


def warp(
    image: np.ndarray,
    mask: np.ndarray | None,
    joints: np.ndarray,
    labelled: np.ndarray,
    visible: np.ndarray,
    matrix: np.ndarray,
    out_size: int,
    flipped: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Apply one affine warp to image (area-averaged when it shrinks, then bilinear), mask (nearest) and
    joints (exact).

    Returns (image, mask, joints, labelled, visible). Joints that land outside the output are no longer
    labelled (nor visible) in it. When `matrix` mirrors the image (`flipped`), left/right joints are
    swapped so their names stay true.
    """
    size = (out_size, out_size)
    small, image_matrix = _area_prefilter(image, matrix)
    out = cv2.warpAffine(small, image_matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out_mask = None
    if mask is not None:
        m = cv2.warpAffine(mask.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST)
        out_mask = m.astype(bool)
    pts = apply_affine(matrix, joints)
    inside = (pts >= -0.5).all(axis=1) & (pts < out_size - 0.5).all(axis=1)
    has = np.asarray(labelled, dtype=bool) & inside
    vis = np.asarray(visible, dtype=bool) & has
    if flipped:  # the matrix already mirrored x: only the left/right names remain to swap
        pts, has, vis = pts[FLIP_PERMUTATION], has[FLIP_PERMUTATION], vis[FLIP_PERMUTATION]
    return out, out_mask, pts, has, vis


def crop_around_person(
    image: np.ndarray,
    mask: np.ndarray | None,
    joints: np.ndarray,
    labelled: np.ndarray,
    visible: np.ndarray,
    out_size: int,
    margin: float,
    rotation_deg: float = 0.0,
    scale: float = 1.0,
    center: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crop a square around the person and resize it to out_size in one warp.

    The square is centred on the person's box (mask box united with the labelled joints' box, or
    `center`) and its side is the box's longer side times (1 + 2 * margin). Rotation is about the
    person's barycenter (study §2.3). Returns (image, mask, joints, labelled, visible, matrix); `matrix`
    maps source pixels to crop pixels (keep it to map predictions back).
    """
    x0, y0, x1, y1 = person_box(mask, joints, labelled, image.shape)
    side = max(x1 - x0 + 1, y1 - y0 + 1, 2.0) * (1.0 + 2.0 * margin)
    c = ((x0 + x1) / 2.0, (y0 + y1) / 2.0) if center is None else center
    pivot = person_barycenter(mask, joints, labelled)
    matrix = affine_matrix(c, side, out_size, rotation_deg, scale, pivot=pivot)
    out, out_mask, pts, has, vis = warp(image, mask, joints, labelled, visible, matrix, out_size)
    return out, out_mask, pts, has, vis, matrix


def flip(
    image: np.ndarray, mask: np.ndarray | None, joints: np.ndarray, labelled: np.ndarray, visible: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror horizontally; left and right joints swap so that their names stay true.
    Returns (image, mask, joints, labelled, visible)."""
    out = np.ascontiguousarray(image[:, ::-1])
    out_mask = None if mask is None else np.ascontiguousarray(mask[:, ::-1])
    pts, has, vis = flip_joints(joints, image.shape[1], labelled, visible)
    return out, out_mask, pts, has, vis
