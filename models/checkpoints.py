"""Checkpoint I/O: the end-of-epoch folders `fit` writes (atomically) and reads back to resume, the trained
model loaded from one, and the warm-start state another run starts from (`init_from`, at a path or URI)."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import torch

from data_pipeline import storage
from models.config import TrainConfig
from models.hourglass import HourglassConfig, StackedHourglass

CHECKPOINT_FILE = "state.pt"


def numpy_rng_state() -> dict:
    """numpy's global RNG as tensors (weights_only-loadable). Our code draws only from explicit Generators;
    this is saved so that any library drawing from the global state replays identically after a resume."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {
        "name": name,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def set_numpy_rng_state(state: dict) -> None:
    """Restore numpy's global RNG from what `numpy_rng_state` saved."""
    np.random.set_state(  # noqa: NPY002
        (
            state["name"],
            state["keys"].numpy().astype(np.uint32),
            state["pos"],
            state["has_gauss"],
            state["cached_gaussian"],
        )
    )


def write_checkpoint(workdir: Path, epoch: int, state: dict, metrics: dict, keep: int | None) -> str:
    """Write `workdir/checkpoints/epoch_XXXX` atomically: a temp dir in the same folder, then os.replace."""
    root = workdir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"epoch_{epoch:04d}"
    tmp = root / f".tmp-epoch_{epoch:04d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(state, tmp / CHECKPOINT_FILE)
    (tmp / "config.json").write_text(json.dumps(state["config"], indent=2))
    (tmp / "metrics.json").write_text(json.dumps(_jsonable(metrics), indent=2))
    if final.exists():  # a rerun of an epoch (resumed after a crash between write and report)
        stale = root / f".stale-epoch_{epoch:04d}-{os.getpid()}"
        os.replace(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    os.replace(tmp, final)
    if keep is not None:
        for old in sorted(root.glob("epoch_*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return str(final)


def _jsonable(metrics: dict) -> dict:
    out = {}
    for k, v in metrics.items():
        out[k] = np.asarray(v, dtype=np.float64).tolist() if np.ndim(v) else float(v)
    return out


def state_file(path: str | os.PathLike) -> Path:
    """The state file of a checkpoint given as its folder or as the file itself."""
    path = Path(path)
    return path / CHECKPOINT_FILE if path.is_dir() else path


def read_warm_start(location: str, model: HourglassConfig | None = None) -> dict:
    """The state dict of a checkpoint another run starts from (`init_from`): `state.pt`, or a folder holding
    one, at a local path or URI, loaded with `weights_only=True`. ValueError naming the file when it is
    missing, unreadable, not a posetune checkpoint, or (given `model`) made for another network shape."""
    fs, path = storage.resolve(location)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        location, path = storage.join(location, CHECKPOINT_FILE), f"{path}/{CHECKPOINT_FILE}"
    try:
        with fs.open_input_stream(path) as stream:
            data = stream.readall()
    except FileNotFoundError:
        raise ValueError(f"{location}: no checkpoint there (warm start)") from None
    except OSError as error:
        raise ValueError(f"{location}: cannot read the warm-start checkpoint ({error})") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        saved = TrainConfig.from_dict(state["config"]).model
        weights = state["model"]
    except Exception as error:  # a torn upload, a foreign file, a pickle weights_only refuses
        raise ValueError(
            f"{location}: not a readable posetune checkpoint ({type(error).__name__}: {str(error)[:200]})"
        ) from None
    if model is not None and saved != model:
        raise ValueError(
            f"{location}: the warm-start checkpoint is a different network ({saved}) from this run's ({model})"
        )
    if not isinstance(weights, dict):
        raise ValueError(f"{location}: not a readable posetune checkpoint (no network weights)")
    return state


def load_checkpoint(path: str | os.PathLike) -> tuple[StackedHourglass, TrainConfig, dict]:
    """(model on CPU in eval mode, its TrainConfig, the raw state dict) from a checkpoint dir or file."""
    state_path = state_file(path)
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: no checkpoint there")
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    config = TrainConfig.from_dict(state["config"])
    model = StackedHourglass(config.model)
    model.load_state_dict(state["model"])
    model.eval()
    return model, config, state


def cuda_rng_to_restore(saved: list[torch.Tensor], device_count: int) -> list[tuple[int, torch.Tensor]]:
    """(device index, state) of the saved CUDA generators that exist here. A trial saved where it saw more
    GPUs resumes on a node where it sees fewer (or more): the extra states are dropped (and the extra
    devices keep their seeds); `torch.cuda.set_rng_state_all` would fail on the first missing device."""
    return list(enumerate(saved[:device_count]))
