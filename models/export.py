"""One self-contained model file: weights, network config, joint set, normalisation, metrics, hyperparameters.

Everything in it is a tensor or a plain Python value, so `torch.load(path, weights_only=True)` reads it
without trusting pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data_pipeline.joints import FLIP_PAIRS, LSP14, SKELETON
from models.hourglass import StackedHourglass
from models.train import TrainConfig, predict

FORMAT = "posetune-model"
VERSION = 1
# What `models.train` does to pixels before the network (images_to_tensor): RGB uint8 / 255, no mean/std.
NORMALIZATION = {"color": "RGB", "scale": 1.0 / 255.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}


def save_exported(
    path: str | os.PathLike,
    model: StackedHourglass,
    config: TrainConfig,
    *,
    metrics: dict[str, float] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write the exported model file (atomically) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "train_config": config.to_dict(),
        "input_size": config.model.input_size,
        "joint_names": list(LSP14),
        "skeleton": [list(edge) for edge in SKELETON],
        "flip_pairs": [list(pair) for pair in FLIP_PAIRS],
        "normalization": NORMALIZATION,
        "metrics": {k: float(v) for k, v in (metrics or {}).items() if _is_number(v)},
        "hyperparameters": _plain(hyperparameters or {}),
        "provenance": _plain(provenance or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_exported(path: str | os.PathLike) -> tuple[StackedHourglass, TrainConfig, dict[str, Any]]:
    """(model in eval mode on CPU, its TrainConfig, the file's metadata) from an exported file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if payload.get("version", 0) > VERSION:
        raise ValueError(f"{path}: format version {payload['version']} is newer than this posetune reads")
    config = TrainConfig.from_dict(payload["train_config"])
    config.device = "cpu" if not torch.cuda.is_available() else config.device
    model = StackedHourglass(config.model)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, config, meta


def predict_images(
    model: StackedHourglass, config: TrainConfig, images: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints (14, 2) in each image's own pixels and confidences (14,), for RGB uint8 images of any size.

    Each image is padded to a square and resized to the network's input, the way a person-centred crop
    would be; the network expects one person filling most of the frame.
    """
    import cv2

    from data_pipeline.enhance import scale_points

    size = config.model.input_size
    batch, transforms = [], []
    for image in images:
        h, w = image.shape[:2]
        side = max(h, w)
        padded = np.zeros((side, side, 3), dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        padded[top : top + h, left : left + w] = image
        batch.append(cv2.resize(padded, (size, size), interpolation=cv2.INTER_AREA))
        transforms.append((side / size, left, top))
    joints, confidence = predict(model, np.stack(batch), config)
    out = []
    for (scale, left, top), j, c in zip(transforms, joints, confidence, strict=True):
        j = scale_points(j, scale) - np.array([left, top], dtype=np.float32)
        out.append((j.astype(np.float32), c.astype(np.float32)))
    return out


def export_onnx(model: StackedHourglass, config: TrainConfig, path: str | os.PathLike) -> Path:
    """The network (images in, every stack's heatmaps out) as ONNX with a dynamic batch axis."""
    path = Path(path)
    model = model.eval().to(memory_format=torch.contiguous_format)
    size = config.model.input_size
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=["heatmaps"],
        dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}},
        dynamo=False,
    )
    return path


def _is_number(value: Any) -> bool:
    try:
        return np.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """Only types weights_only=True accepts: dicts, lists, str, int, float, bool, None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
