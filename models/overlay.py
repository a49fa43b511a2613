"""A checkpoint's predicted (and the true) skeletons over images: for run reports and W&B panels.

The drawing itself is `data_pipeline.preview.draw_skeleton`."""

from __future__ import annotations

import numpy as np

from data_pipeline.preview import draw_skeleton, write_image
from models.train import load_checkpoint, predict

PRED_COLOUR = (255, 64, 64)  # RGB
TRUE_COLOUR = (64, 255, 64)


def overlay_grid(images, pred, gt=None, visible=None, columns: int = 4) -> np.ndarray:
    """One RGB grid image: each input with its prediction (red) and, if given, the ground truth (green)."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w, _ = images.shape
    visible = np.ones(pred.shape[:2], dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    thickness = max(1, h // 128)  # training crops are small: thin lines keep the joints readable
    tiles = []
    for i in range(n):
        tile = images[i]
        if gt is not None:
            tile = draw_skeleton(tile, gt[i], visible[i], TRUE_COLOUR, thickness)
        everywhere = np.ones(pred.shape[1], dtype=bool)
        tiles.append(draw_skeleton(tile, pred[i], everywhere, PRED_COLOUR, thickness))
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return grid


def render_checkpoint(checkpoint_dir, dataset, path, n: int = 8) -> None:
    """A checkpoint's predictions (red) and the truth (green) on the first `n` samples of `dataset`, as PNG."""
    model, config, _ = load_checkpoint(checkpoint_dir)
    config.device = "cpu"
    samples = [dataset[i] for i in range(min(n, len(dataset)))]
    images = np.stack([s["image"] for s in samples])
    pred, _ = predict(model, images, config)
    gt = np.stack([s["joints"] for s in samples])
    visible = np.stack([s["visible"] for s in samples])
    write_image(path, overlay_grid(images, pred, gt, visible))
