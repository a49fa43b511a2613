"""Painting the person: each of SMPL's 24 parts as a filled ellipse around its bone, drawn far to near
(painter's order, which gives the part-id map `segm` and natural self-occlusion), then coloured by an
outfit with rounded shading, part outlines and a face (eyes, or hair when seen from behind)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from data_pipeline.demo.body import JOINT, PARTS

SKIN_PARTS = (12, 15, 20, 21, 22, 23)
SHIRT_PARTS = (3, 6, 9, 13, 14, 16, 17)
SLEEVE_PARTS = (18, 19)  # shirt or skin (short sleeves)
PANTS_PARTS = (0, 1, 2)
SHIN_PARTS = (4, 5)  # pants or skin (shorts)
SHOE_PARTS = (7, 8, 10, 11)

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def part_geometry(
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


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a small random grid upsampled bicubically."""
    h, w = shape
    grid = rng.random((max(cells * h // max(w, 1), 2), max(cells, 2))).astype(np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0)


def random_colour(rng: np.random.Generator, sat=(0.2, 0.9), val=(0.25, 0.95)) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


@dataclass(frozen=True)
class Outfit:
    """Colours per SURREAL part (25, 3) RGB floats; index 0 unused (background)."""

    colours: np.ndarray
    hair: np.ndarray
    name: str


def sample_outfit(rng: np.random.Generator) -> Outfit:
    skin = np.array([rng.uniform(90, 240), 0, 0], np.float32)
    skin[1], skin[2] = skin[0] * rng.uniform(0.65, 0.8), skin[0] * rng.uniform(0.5, 0.65)
    shirt, pants, shoes = random_colour(rng), random_colour(rng), random_colour(rng, val=(0.1, 0.4))
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
    hair = random_colour(rng, sat=(0.1, 0.6), val=(0.05, 0.5))
    name = f"procedural/{'long' if long_sleeves else 'short'}sleeves_{'shorts' if shorts else 'trousers'}"
    return Outfit(colours, hair, name)


def clothing_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
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
    return 0.7 + 0.6 * smooth_noise(rng, shape, max(w // 6, 2))


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


def face_features(
    joints3d: np.ndarray, head_fwd: np.ndarray, to_pixels, scale: float, toward_camera: np.ndarray
):
    """Eye positions and whether the face looks at the camera (else the back of the head shows)."""
    head = joints3d[JOINT["Head"]]
    side = np.cross(np.array([0.0, 1.0, 0.0]), head_fwd)
    side /= max(np.linalg.norm(side), 1e-6)
    eyes = [
        head + 0.08 * scale * head_fwd + 0.035 * scale * sgn * side + [0, 0.02 * scale, 0] for sgn in (1, -1)
    ]
    (eye_a, eye_b, centre), px_per_m = to_pixels(np.array([*eyes, head]))
    facing = float(np.dot(head_fwd, toward_camera)) > 0.15
    return eye_a, eye_b, 0.013 * scale * px_per_m[2], facing, centre, 0.09 * scale * px_per_m[2]
