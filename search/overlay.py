"""Predictions drawn over images: for W&B, `posetune predict` and the study's figures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from data_pipeline.preview import draw_skeleton


def overlay_strip(
    images: list[np.ndarray], joints: list[np.ndarray], visible: list[np.ndarray]
) -> np.ndarray:
    """Images side by side (resized to the first one's height) with their skeletons drawn, RGB uint8."""
    height = images[0].shape[0]
    tiles = []
    for image, j, v in zip(images, joints, visible, strict=True):
        drawn = draw_skeleton(image, j, v)
        scale = height / drawn.shape[0]
        if scale != 1:
            drawn = cv2.resize(drawn, (round(drawn.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
        tiles.append(drawn)
    return np.concatenate(tiles, axis=1)


def write_png(path: str | Path, image_rgb: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the PNG")
    return path


def render_predictions(checkpoint_dir: str, dataset, *, n: int, out: str | Path) -> Path:
    """The checkpoint's predictions on the first `n` samples of `dataset`, as one PNG strip."""
    from models.train import load_checkpoint, predict

    model, config, _ = load_checkpoint(checkpoint_dir)
    config.device = "cpu"
    samples = [dataset[i] for i in range(min(n, len(dataset)))]
    images = np.stack([s["image"] for s in samples])
    joints, _ = predict(model, images, config)
    return write_png(out, overlay_strip(list(images), list(joints), [np.ones(len(j), bool) for j in joints]))
