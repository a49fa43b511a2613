"""The demo's domain shift, factor by factor: how the procedural target (LSP format) departs from the
procedural source (SURREAL format), each named factor with a strength knob.

A strength of 0 renders that factor as the source does; 1 is the default strength (what `posetune demo`
uses). The factors are drawn from separate random streams, so two targets written with the same seed and
different strengths show the same people in the same poses: a target with ONE factor at 1 and the others
at 0 isolates that factor's share of the gap. docs/data-formats.md ("The demo set") documents each one.

Pure numpy/OpenCV: every function takes an explicit `numpy.random.Generator`.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from pydantic import Field, StrictFloat

from data_pipeline.settings import settings_dataclass

SHIFT_FACTORS = ("lighting", "background", "texture", "occluders", "degradation", "framing")


@settings_dataclass(frozen=True)
class DomainShift:
    """Strength of each factor by which the demo target differs from the source (0 = as the source,
    1 = default strength)."""

    lighting: StrictFloat = Field(
        1.0,
        ge=0,
        le=1,
        description="person lit by the scene's illuminant (level, colour cast, direction), not apart",
    )
    background: StrictFloat = Field(
        1.0, ge=0, le=1, description="outdoor scenes instead of indoor ones, with limb-like clutter"
    )
    texture: StrictFloat = Field(
        1.0, ge=0, le=1, description="contrast of clothing texture (stripes, checks, noise)"
    )
    occluders: StrictFloat = Field(1.0, ge=0, le=1, description="chance of objects in front of the person")
    degradation: StrictFloat = Field(1.0, ge=0, le=1, description="blur, sensor noise and JPEG compression")
    framing: StrictFloat = Field(
        1.0, ge=0, le=1, description="tight, tilted framing and person size unlike the source's camera"
    )

    @classmethod
    def none(cls) -> DomainShift:
        """Every factor at 0: a target rendered like the source (in LSP's format)."""
        return cls(**{name: 0.0 for name in SHIFT_FACTORS})

    @classmethod
    def only(cls, factor: str, strength: float = 1.0) -> DomainShift:
        """One factor at `strength`, every other at 0 (for a per-factor gap table)."""
        if factor not in SHIFT_FACTORS:
            raise ValueError(f"unknown domain-shift factor {factor!r}; known: {', '.join(SHIFT_FACTORS)}")
        return dataclasses.replace(cls.none(), **{factor: float(strength)})

    def is_default(self) -> bool:
        return self == DomainShift()

    def tag(self) -> str:
        """A short name for folders: "" at the default strengths, else e.g. "shift-l1-b0-t0-o0-d0-f0.5"."""
        if self.is_default():
            return ""
        return "shift-" + "-".join(f"{name[0]}{getattr(self, name):g}" for name in SHIFT_FACTORS)

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in SHIFT_FACTORS}


def factor_streams(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """One independent generator for the person and one per factor, spawned from `rng`'s seed sequence
    (so changing one factor's strength never moves another's draws)."""
    children = rng.spawn(1 + len(SHIFT_FACTORS))
    return dict(zip(("person", *SHIFT_FACTORS), children, strict=True))


def lerp(a, b, strength: float):
    """(1 - strength) a + strength b: a factor's source value at 0, its target value at 1."""
    return (1.0 - strength) * np.asarray(a, dtype=np.float64) + strength * np.asarray(b, dtype=np.float64)


# --- lighting ---------------------------------------------------------------------------------------------


def illuminant(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A scene illuminant: a unit 2D direction the light comes from and an RGB colour cast (gains, mean 1)."""
    direction = rng.normal(size=2)
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    warmth = rng.uniform(-1.0, 1.0)  # warm (sunset, tungsten) to cool (shade, overcast)
    gains = np.array([1.0 + 0.22 * warmth, 1.0 + 0.04 * warmth, 1.0 - 0.22 * warmth]) * rng.uniform(
        0.93, 1.07, size=3
    )
    return direction, gains / gains.mean()


def directional_shade(shape: tuple[int, int], direction: np.ndarray, amplitude: float) -> np.ndarray:
    """(H, W) float32 shading across the image: 1 + amplitude x position along `direction` (in [-0.5, 0.5])."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    along = (xs / max(w, 1) - 0.5) * direction[0] + (ys / max(h, 1) - 0.5) * direction[1]
    return (1.0 + amplitude * along).astype(np.float32)


# --- background clutter -------------------------------------------------------------------------------


def draw_clutter(
    image: np.ndarray, rng: np.random.Generator, count: int, limb_px: float, palette: np.ndarray
) -> np.ndarray:
    """Limb-like distractors on a background (float RGB): `count` elongated ellipses about a limb's size
    (`limb_px` long) in skin and clothing colours from `palette` (N, 3), as real scenes hold other
    people, poles and branches."""
    out = image.copy()
    h, w = out.shape[:2]
    for _ in range(count):
        length = limb_px * rng.uniform(0.6, 1.4)
        width = length * rng.uniform(0.15, 0.3)
        centre = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
        colour = palette[int(rng.integers(len(palette)))] * rng.uniform(0.7, 1.2)
        axes = (max(int(length / 2), 1), max(int(width / 2), 1))
        cv2.ellipse(
            out, (int(centre[0]), int(centre[1])), axes, float(rng.uniform(0, 180)), 0, 360,
            tuple(float(c) for c in colour), -1, cv2.LINE_AA,
        )  # fmt: skip
    return out


# --- occluders ------------------------------------------------------------------------------------------


def draw_occluders(
    image: np.ndarray,
    person_box: tuple[float, float, float, float],
    rng: np.random.Generator,
    strength: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Objects in front of the person: with probability `strength` one occluder (and with `strength`² a
    second), a rectangle or ellipse 25-55 % of the person's box per side, textured in a random colour,
    overlapping the box. Returns (image, occluder mask (H, W) bool); joints under the mask are occluded."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = person_box
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    occluder = np.zeros((h, w), np.uint8)
    out = image.copy()
    for chance in (strength, strength * strength):
        draws = rng.random(6)  # drawn whatever the strength, so the stream stays aligned
        colour_rng = np.random.default_rng(rng.integers(2**32))
        if draws[0] >= chance:
            continue
        ow, oh = bw * (0.25 + 0.3 * draws[1]), bh * (0.25 + 0.3 * draws[2])
        cx, cy = x0 + draws[3] * bw, y0 + draws[4] * bh
        layer = np.zeros((h, w), np.uint8)
        if draws[5] < 0.5:
            cv2.rectangle(
                layer, (int(cx - ow / 2), int(cy - oh / 2)), (int(cx + ow / 2), int(cy + oh / 2)), 1, -1
            )
        else:
            cv2.ellipse(
                layer, (int(cx), int(cy)), (max(int(ow / 2), 1), max(int(oh / 2), 1)), 0, 0, 360, 1, -1
            )
        hsv = np.uint8([[[colour_rng.integers(0, 180), colour_rng.uniform(0.2, 0.8) * 255,
                          colour_rng.uniform(0.2, 0.9) * 255]]])  # fmt: skip
        colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
        grain = 0.75 + 0.5 * cv2.resize(
            colour_rng.random((8, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
        )
        sel = layer > 0
        out[sel] = colour * grain[sel][:, None]
        occluder |= layer
    return out, occluder > 0


# --- degradation ----------------------------------------------------------------------------------------


def degrade(image: np.ndarray, rng: np.random.Generator, strength: float, person_px: float) -> np.ndarray:
    """Camera degradation at `strength`: Gaussian blur of σ = strength x U(0.4, 1.6) % of the person's
    height (`person_px`), then Gaussian sensor noise of σ = strength x U(3, 10) grey levels. Float RGB in
    and out (JPEG compression is `jpeg_quality`)."""
    sigma = strength * rng.uniform(0.004, 0.016) * person_px
    noise = strength * rng.uniform(3.0, 10.0)
    pixel_noise = rng.normal(0.0, 1.0, size=image.shape).astype(np.float32)
    out = image
    if sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    return out + noise * pixel_noise


def jpeg_quality(rng: np.random.Generator, strength: float) -> int:
    """The JPEG quality a target image is saved with: 95 at strength 0, U(30, 80) at strength 1."""
    return int(round(float(lerp(95.0, rng.uniform(30.0, 80.0), strength))))
