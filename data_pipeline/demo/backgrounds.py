"""Backgrounds: the source's indoor-style scenes and the target's outdoor ones."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipeline.demo.paint import random_colour, smooth_noise


def source_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Indoor-style: a two-colour gradient, smooth noise, and a few flat rectangles and discs."""
    h, w = shape
    c0, c1 = random_colour(rng), random_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(angle) * xs / w + np.sin(angle) * ys / h + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    img *= (0.7 + 0.6 * smooth_noise(rng, shape, int(rng.integers(3, 9))))[..., None]
    for _ in range(int(rng.integers(2, 7))):
        colour = tuple(float(v) for v in random_colour(rng))
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
    ground = random_colour(rng, sat=(0.2, 0.7), val=(0.3, 0.7))
    t = np.clip(ys / max(horizon, 1), 0, 1)[..., None]
    img = sky * (0.75 + 0.25 * t)
    fine = smooth_noise(rng, shape, int(rng.integers(20, 60)))
    grain = rng.random(shape, dtype=np.float32)
    ground_tex = ground * (0.6 + 0.3 * fine + 0.2 * grain)[..., None]
    img = np.where((ys > horizon)[..., None], ground_tex, img)
    for _ in range(int(rng.integers(1, 5))):
        colour = tuple(float(v) for v in random_colour(rng, sat=(0.3, 0.8), val=(0.15, 0.6)))
        centre = (int(rng.integers(0, w)), int(horizon + rng.uniform(-0.3, 0.05) * h))
        axes = (int(rng.integers(10, w // 2)), int(rng.integers(10, h // 3)))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.0))
    return np.clip(img, 0, 255).astype(np.float32)
