"""The target set's images in LSP's style: the source's people and poses, departing from the source's looks
by the named factors of data_pipeline.shift.DomainShift (lighting, background, texture, occluders,
degradation, framing), each with a strength knob (0 = as the source, 1 = default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from data_pipeline.demo.backgrounds import outdoor_background, source_background
from data_pipeline.demo.body import JOINT, PARTS, sample_body, sample_pose, skeleton
from data_pipeline.demo.camera import FOCAL, FRAME_SIZE, backproject, project
from data_pipeline.demo.paint import (
    clothing_texture,
    colour_person,
    face_features,
    part_geometry,
    render_segm,
    sample_outfit,
)
from data_pipeline.joints import SMPL24_TO_LSP14
from data_pipeline.shift import (
    DomainShift,
    degrade,
    directional_shade,
    draw_clutter,
    draw_occluders,
    factor_streams,
    illuminant,
    lerp,
)


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
    view = _frame(streams["framing"], shift.framing, local, head_top)
    h, w = view.shape
    segm = render_segm(part_geometry(view.uv, view.zc, view.top_uv, view.px_per_m), (h, w))
    face = face_features(local, head_fwd, view.to_pixels, body.scale, toward_camera=np.array([0.0, 0.0, 1.0]))
    background = _background(streams["background"], shift.background, (h, w), view.px_per_m)
    background, brightness, direction, gains = _lighting(streams["lighting"], shift.lighting, background)

    lit = shift.lighting
    texture = clothing_texture(streams["texture"], (h, w))
    person, mask = colour_person(
        segm, outfit, brightness, face,
        texture=None if shift.texture == 0 else 1.0 + shift.texture * (texture - 1.0),
        light=None if lit == 0 else direction * lit,
    )  # fmt: skip
    image = np.where(mask[..., None], np.clip(person, 0, 255), background).astype(np.float32)
    ys, xs = np.nonzero(mask)
    box = (
        (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        if len(xs)
        else (0, 0, w - 1, h - 1)
    )
    image, occluder = draw_occluders(image, box, streams["occluders"], shift.occluders)
    image = image * lerp(np.ones(3), gains, lit).astype(np.float32)
    image = degrade(image, streams["degradation"], shift.degradation, view.person_height)
    image = np.clip(image, 0, 255).astype(np.uint8)
    joints, occluded = _joints(view.uv, view.top_uv, segm, occluder)
    return image, joints, occluded


@dataclass
class _View:
    """Where the person lands in a target image: joints (24,2) and head top (2,) in pixels, depths (24,),
    pixels per metre at each joint (24,), the image's (H, W), the person's height in pixels, and the map
    from body-frame points to (pixels, pixels per metre)."""

    uv: np.ndarray
    zc: np.ndarray
    top_uv: np.ndarray
    px_per_m: np.ndarray
    shape: tuple[int, int]
    person_height: float
    to_pixels: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _frame(framing: np.random.Generator, s: float, local: np.ndarray, head_top: np.ndarray) -> _View:
    """Framing at strength `s`: the source's camera and placement (render_clip), then zoomed and rolled
    about the pelvis, and the 320x240 frame pulled in towards a tight box around the person."""
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

    def to_pixels(points):
        p_uv, p_z = project(points + pelvis, cam_loc)
        return place(p_uv) + offset, FOCAL / p_z * zoom

    return _View(uv + offset, zc, top_uv + offset, px_per_m, (h, w), float(size[1]), to_pixels)


def _background(
    bg: np.random.Generator, b: float, shape: tuple[int, int], px_per_m: np.ndarray
) -> np.ndarray:
    """An indoor scene like the source's, or (with probability = strength `b`) an outdoor one, plus
    limb-like clutter in skin and clothing colours."""
    outdoor = bg.random() < b
    scene_rng = np.random.default_rng(bg.integers(2**32))
    background = outdoor_background(scene_rng, shape) if outdoor else source_background(scene_rng, shape)
    palette = sample_outfit(bg).colours[1:]
    limb_px = 0.4 * float(np.median(px_per_m))
    return draw_clutter(background.astype(np.float32), bg, int(bg.binomial(4, b)), limb_px, palette)


def _lighting(lighting: np.random.Generator, lit: float, background: np.ndarray):
    """The source draws the person's level independently of the scene; the target lights scene and person
    by one illuminant (direction, level, colour cast). Returns the lit background, the person's
    brightness, the light's direction and the colour gains."""
    independent = float(lighting.uniform(0.45, 1.25))
    direction, gains = illuminant(lighting)
    jitter = float(lighting.uniform(0.85, 1.15))
    background = background * directional_shade(background.shape[:2], direction, 0.4 * lit)[..., None]
    consistent = float(np.clip(background.mean() / 128.0 * jitter, 0.4, 1.4))
    return background, float(lerp(independent, consistent, lit)), direction, gains


def _joints(uv: np.ndarray, top_uv: np.ndarray, segm: np.ndarray, occluder: np.ndarray):
    """LSP-14 joints (14,2) and occluded flags (14,): by the person's own parts or by an occluder; a joint
    outside the image is unlabelled (-1, -1) and not occluded."""
    h, w = segm.shape
    joints = np.empty((14, 2), np.float32)
    joints[:13] = uv[SMPL24_TO_LSP14[:13]]
    joints[13] = top_uv
    occluded = _occluded(segm, joints, SMPL24_TO_LSP14)
    px = np.floor(joints + 0.5).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    occluded[inside] |= occluder[px[inside, 1], px[inside, 0]]
    joints[~inside] = -1.0
    occluded[~inside] = False
    return joints, occluded


def _occluded(segm: np.ndarray, joints: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """A joint is occluded when the part drawn at its pixel is not one of the parts meeting at the joint."""
    h, w = segm.shape
    out = np.zeros(len(joints), dtype=bool)
    for k, (x, y) in enumerate(joints):
        xi, yi = round(float(x)), round(float(y))
        if not (0 <= xi < w and 0 <= yi < h):
            continue
        here = int(segm[yi, xi])
        smpl = JOINT["Head"] if k == 13 else int(mapping[k])
        own = {p + 1 for p, (a, b, _) in enumerate(PARTS) if smpl in (a, b)}
        if smpl == JOINT["Neck"]:
            own |= {JOINT["Head"] + 1}
        out[k] = here != 0 and here not in own
    return out
