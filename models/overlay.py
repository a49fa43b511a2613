"""A checkpoint's predicted skeletons beside the true ones, at a size a person can judge: for run reports,
the demo and W&B panels.

The drawing itself is `data_pipeline.preview.draw_skeleton`."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipeline.preview import draw_skeleton, write_image
from models.checkpoints import load_checkpoint
from models.evaluation import predict

TILE = 256  # px per drawn sample: training crops (32-128 px) are scaled up so a skeleton can be judged
GAP = 4  # px between the truth and the prediction of a sample, and between samples
LABEL_COLOUR = (235, 235, 235)


def _panel(image: np.ndarray, joints: np.ndarray, shown: np.ndarray, label: str, tile: int) -> np.ndarray:
    """`image` scaled to `tile` px with the skeleton drawn at that size (crisp lines), labelled top left."""
    h, w = image.shape[:2]
    big = cv2.resize(image, (tile, round(h * tile / w)), interpolation=cv2.INTER_LINEAR)
    out = draw_skeleton(big, np.asarray(joints, dtype=np.float64) * (tile / w), shown)
    cv2.putText(out, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, LABEL_COLOUR, 1, cv2.LINE_AA)
    return out


def overlay_grid(images, pred, gt=None, visible=None, columns: int = 2, tile: int = TILE) -> np.ndarray:
    """One RGB grid: per sample, the ground truth (if given) beside the prediction, each `tile` px wide.

    Both are drawn in the skeleton's side colours (the person's right red, left blue, centre yellow), so a
    left/right swap shows; the truth draws occluded joints as hollow circles. `columns` samples per row."""
    images = np.asarray(images, dtype=np.uint8)
    visible = np.ones(pred.shape[:2], dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    everywhere = np.ones(pred.shape[1], dtype=bool)
    pairs = []
    for i in range(len(images)):
        panels = [] if gt is None else [_panel(images[i], gt[i], visible[i], "truth", tile)]
        panels.append(_panel(images[i], pred[i], everywhere, "prediction", tile))
        pairs.append(_hstack(panels))
    columns = max(1, min(columns, len(pairs)))
    rows = [_hstack(pairs[r : r + columns], width=columns) for r in range(0, len(pairs), columns)]
    height = sum(r.shape[0] for r in rows) + GAP * (len(rows) - 1)
    grid = np.zeros((height, rows[0].shape[1], 3), dtype=np.uint8)
    y = 0
    for row in rows:
        grid[y : y + row.shape[0], : row.shape[1]] = row
        y += row.shape[0] + GAP
    return grid


def _hstack(tiles: list[np.ndarray], width: int | None = None) -> np.ndarray:
    """Tiles side by side with GAP px between them, padded to `width` tiles (a short last row)."""
    h, w = max(t.shape[0] for t in tiles), tiles[0].shape[1]
    n = width or len(tiles)
    out = np.zeros((h, n * w + GAP * (n - 1), 3), dtype=np.uint8)
    for k, t in enumerate(tiles):
        out[: t.shape[0], k * (w + GAP) : k * (w + GAP) + t.shape[1]] = t
    return out


def render_checkpoint(checkpoint_dir, dataset, path, n: int = 8) -> None:
    """A checkpoint's predictions beside the truth on `n` samples spread evenly over `dataset` (the same
    ones every time; neighbouring samples are often frames of one clip), as PNG."""
    model, config, _ = load_checkpoint(checkpoint_dir)
    config.device = "cpu"
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(n, len(dataset))).round().astype(int))
    samples = [dataset[int(i)] for i in picks]
    images = np.stack([s["image"] for s in samples])
    pred, _ = predict(model, images, config)
    labelled = np.stack([s["labelled"] for s in samples])
    gt = np.where(labelled[..., None], np.stack([s["joints"] for s in samples]), -1.0)  # unlabelled: not drawn
    visible = np.stack([s["visible"] for s in samples])
    write_image(path, overlay_grid(images, pred, gt, visible))
