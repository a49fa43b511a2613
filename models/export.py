"""One self-contained model file: weights, network config, joint set, normalisation, metrics, hyperparameters.

Everything in it is a tensor or a plain Python value, so `torch.load(path, weights_only=True)` reads it
without trusting pickled code.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow.fs as pafs
import torch

from data_pipeline.enhance import scale_points
from data_pipeline.errors import DataError
from data_pipeline.joints import FLIP_PAIRS, LSP14, SKELETON
from data_pipeline.outputs import replacing_file
from models.config import TrainConfig
from models.evaluation import predict
from models.hourglass import StackedHourglass

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
    with replacing_file(path) as tmp:  # a failure leaves no half-written file behind
        torch.save(payload, tmp)
    return path


def is_exported(fs, path: str) -> bool:
    """Whether the file at `path` (on pyarrow filesystem `fs`) is a model file posetune exported: what
    `--overwrite` may replace (`data_pipeline.outputs`)."""
    try:
        if isinstance(fs, pafs.LocalFileSystem):  # read lazily: a big foreign file is not read whole
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        else:
            with fs.open_input_stream(path) as stream:
                payload = torch.load(io.BytesIO(stream.read()), map_location="cpu", weights_only=True)
    except Exception:  # anything torch cannot read as a weights-only file is not ours
        return False
    return isinstance(payload, dict) and payload.get("format") == FORMAT


def is_exported_onnx(fs, path: str) -> bool:
    """Whether the ONNX file at `path` carries the metadata `export_onnx` writes."""
    onnx = _onnx()
    try:
        with fs.open_input_stream(path) as stream:
            graph = onnx.load_model(io.BytesIO(stream.read()), load_external_data=False)
    except Exception:  # not an ONNX file at all
        return False
    return any(p.key == "format" and p.value == FORMAT for p in graph.metadata_props)


def inference_config(config: TrainConfig, device: str = "auto") -> TrainConfig:
    """The training config set up to run on `device` ("auto": CUDA when torch sees one, else CPU).

    On CUDA the training precision is kept (bf16 autocast where training used it: "auto" or "bf16");
    on CPU inference runs in fp32, since CPU bf16 autocast is slower and less exact there.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device (a CPU build, or no GPU)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = config.precision if device == "cuda" else "fp32"
    return dataclasses.replace(config, device=device, precision=precision, compile=False)


def load_exported(
    path: str | os.PathLike, device: str = "auto"
) -> tuple[StackedHourglass, TrainConfig, dict[str, Any]]:
    """(model in eval mode on `device`, its TrainConfig set up for that device, the file's metadata).

    The returned config is what `predict_images` needs to keep the inputs on the model's device.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such model file" if not path.exists() else "is not a file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError... for a bad file
        raise DataError(path, f"not a readable model file ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(path, f"not a {FORMAT} file (write one with `posetune search export`)")
    if not isinstance(payload.get("version"), int) or payload["version"] > VERSION:
        raise DataError(path, f"format version {payload.get('version')!r} is not one this posetune reads")
    try:
        trained = TrainConfig.from_dict(payload["train_config"])
        state = payload["state_dict"]
        broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if broken:
            raise DataError(path, f"weights {broken[0]} hold NaN or infinite values (a corrupted file?)")
        model = StackedHourglass(trained.model)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise DataError(path, f"damaged model file ({type(error).__name__}: {str(error)[:200]})") from None
    config = inference_config(trained, device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(torch.device(config.device), memory_format=memory_format).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, config, meta


def predict_images(
    model: StackedHourglass, config: TrainConfig, images: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints (14, 2) in each image's own pixels and confidences (14,), for RGB uint8 images of any size.

    Each image is padded to a square and resized to the network's input, the way a person-centred crop
    would be; the network expects one person filling most of the frame.
    """
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
    chunk = config.eval_batch_size  # bounded device memory whatever the number of images
    predicted = [predict(model, np.stack(batch[i : i + chunk]), config) for i in range(0, len(batch), chunk)]
    joints = np.concatenate([j for j, _ in predicted])
    confidence = np.concatenate([c for _, c in predicted])
    out = []
    for (scale, left, top), j, c in zip(transforms, joints, confidence, strict=True):
        j = scale_points(j, scale) - np.array([left, top], dtype=np.float32)
        out.append((j.astype(np.float32), c.astype(np.float32)))
    return out


def export_onnx(model: StackedHourglass, config: TrainConfig, path: str | os.PathLike) -> Path:
    """The network (images in, every stack's heatmaps out) as ONNX with a dynamic batch axis.

    Traced on a CPU copy in fp32, so a model loaded on a GPU exports the same graph."""
    onnx = _onnx()
    path = Path(path)
    model = copy.deepcopy(model).float().cpu().eval().to(memory_format=torch.contiguous_format)
    size = config.model.input_size
    dummy = torch.zeros(1, 3, size, size)
    with replacing_file(path) as tmp:
        torch.onnx.export(
            model,
            (dummy,),
            str(tmp),
            input_names=["image"],
            output_names=["heatmaps"],
            dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}},
            dynamo=False,
        )
        graph = onnx.load_model(str(tmp))
        onnx.helper.set_model_props(graph, {"format": FORMAT})  # what `is_exported_onnx` looks for
        onnx.save_model(graph, str(tmp))
    return path


def _onnx():
    """The optional onnx package (the `onnx` extra: `pip install 'posetune[onnx]'`), imported on first use so
    that exporting without ONNX never needs it."""
    try:
        import onnx
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{error}: the ONNX export needs the onnx package (pip install 'posetune[onnx]')", name="onnx"
        ) from None
    return onnx


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
