"""`fit()`: train one configuration of the stacked hourglass, optionally domain-adversarial. Knows nothing of Ray.

`fit` is a loop over named phases: restore (from a checkpoint), train one epoch (`steps_per_epoch`
RMSprop steps on labelled source batches, plus one unlabelled target batch per step when the
configuration uses target images), validate (labelled target-validation and source-validation splits),
checkpoint (atomically) and report. Batches are drawn from per-(seed, epoch, pass) shuffles, so resuming
from a checkpoint replays exactly the batches, weights and learning rates of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from data_pipeline import storage
from data_pipeline.loader import before_forking_workers, seeded_subset, worker_init
from models import label_free
from models import metric_names as names
from models.adversarial import DomainAdversarialLoss, DomainClassifier, dann_lambda
from models.config import TrainConfig  # the settings live in the light models.config
from models.heatmaps import HeatmapCodec
from models.hourglass import HourglassConfig, StackedHourglass
from models.losses import pose_loss
from models.metrics import scalars, summarize

CHECKPOINT_FILE = "state.pt"
EVAL_SUBSET_SEED = 0  # max_eval_samples draws the same random subset in every trial and epoch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the run stops instead of reporting garbage."""


@dataclass
class TrainData:
    """The four splits `fit` reads; each a map-style dataset of {"image", "joints", "labelled", "visible",
    "head_size", ...} dicts (data_pipeline.loader.ShardDataset's items)."""

    source_train: Dataset  # labelled, augmented
    source_val: Dataset  # labelled, augment=None
    target_val: Dataset  # labelled real-looking images, augment=None: the model-selection split
    target_adapt: Dataset | None = None  # unlabelled target images (domain classifier, BatchNorm arms)


class ExponentialDecay:
    """lr multiplier rate^(step / decay_steps) (TF's exponential_decay, non-staircase), a picklable callable."""

    def __init__(self, rate: float, decay_steps: int):
        self.rate, self.decay_steps = float(rate), int(decay_steps)

    def __call__(self, step: int) -> float:
        return self.rate ** (step / self.decay_steps)


# ---------------------------------------------------------------------------------------------- devices


@dataclass
class _Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None
    memory_format: torch.memory_format

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


def _runtime(config: TrainConfig) -> _Runtime:
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("TrainConfig.device is 'cuda' but torch sees no CUDA device")
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    precision = config.precision if config.precision != "auto" else ("bf16" if use_cuda else "fp32")
    return _Runtime(
        device=device,
        autocast_dtype=torch.bfloat16 if precision == "bf16" else None,
        memory_format=torch.channels_last if config.channels_last else torch.contiguous_format,
    )


def images_to_tensor(images: torch.Tensor, runtime: _Runtime) -> torch.Tensor:
    """uint8 `(B, S, S, 3)` RGB -> float `(B, 3, S, S)` in [0, 1] on the device, in the chosen memory format."""
    x = images.to(runtime.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    return x.contiguous(memory_format=runtime.memory_format)


def _collate(samples: list[dict]) -> dict:
    """Stack only what training needs (datasets may carry ids, masks and other extras)."""

    def stack(key: str, dtype) -> torch.Tensor:
        return torch.from_numpy(np.stack([np.asarray(s[key], dtype=dtype) for s in samples]))

    head_size = [s.get("head_size", np.nan) for s in samples]
    return {
        "image": stack("image", np.uint8),
        "joints": stack("joints", np.float32),
        "labelled": stack("labelled", bool),
        "visible": stack("visible", bool),
        "head_size": torch.tensor(np.asarray(head_size, dtype=np.float32)),
    }


def supervised_mask(batch: dict, config: TrainConfig) -> torch.Tensor:
    """The joints that get a heatmap target: every labelled one (occluded, or under a synthetic occluder,
    included: Sárándi et al. 2018), or with `supervise: visible` only the unoccluded ones (the old
    behaviour, kept for ablation)."""
    return batch["labelled"] if config.supervise == "labelled" else batch["visible"]


def _stream_seed(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> 1)


class EpochBatches(Sampler):
    """`steps` shuffled batches of `(epoch, pass, index)` keys for the epoch set by `set_epoch`.

    Pass k of epoch e over the data shuffles with seed (seed, stream, e, k) and draws pass k's augmentations
    (a second pass is not a copy of the first), so every epoch is replayable. The epoch travels inside the
    keys because persistent workers keep their own copy of the dataset: setting it in the main process
    would not reach them.
    """

    def __init__(self, size: int, batch_size: int, steps: int, seed: int, stream: int):
        self.size, self.batch_size, self.steps = size, min(batch_size, size), steps
        self.seed, self.stream, self.epoch = seed, stream, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        done, per_pass = 0, self.size // self.batch_size
        for k in itertools.count():
            generator = torch.Generator().manual_seed(_stream_seed(self.seed, self.stream, self.epoch, k))
            order = torch.randperm(self.size, generator=generator).tolist()
            for b in range(per_pass):
                if done == self.steps:
                    return
                yield [(self.epoch, k, i) for i in order[b * self.batch_size : (b + 1) * self.batch_size]]
                done += 1


class _Keyed(Dataset):
    """`dataset` read by `(epoch, pass, index)` keys: the process that reads an item selects its stream."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int, int]) -> dict:
        epoch, pass_index, i = key
        _set_epoch(self.dataset, epoch, pass_index)
        return self.dataset[i]


def _loader_options(config: TrainConfig) -> dict:
    """Workers forked once and kept across epochs, one OpenCV thread each; pinned host memory on CUDA, so
    that the `non_blocking` copies to the device really overlap with compute."""
    workers = config.num_workers
    if workers > 0:
        before_forking_workers()
    return {
        "num_workers": workers,
        "persistent_workers": workers > 0,
        "worker_init_fn": worker_init if workers > 0 else None,
        "pin_memory": _runtime(config).device.type == "cuda",
        "collate_fn": _collate,
    }


def train_loader(
    dataset: Dataset, config: TrainConfig, *, batch_size: int, steps: int, stream: int
) -> DataLoader:
    """The training batches of one data stream for a whole fit: call `.batch_sampler.set_epoch(e)`, then
    iterate it once per epoch (`steps` batches); its workers live as long as the loader."""
    sampler = EpochBatches(len(dataset), batch_size, steps, config.seed, stream)
    return DataLoader(_Keyed(dataset), batch_sampler=sampler, **_loader_options(config))


def eval_loader(dataset: Dataset, config: TrainConfig) -> DataLoader:
    """Validation batches in a fixed order, over a seeded random `max_eval_samples` of the dataset."""
    if config.max_eval_samples is not None and len(dataset) > config.max_eval_samples:
        dataset = Subset(
            dataset, seeded_subset(len(dataset), config.max_eval_samples, EVAL_SUBSET_SEED).tolist()
        )
    return DataLoader(dataset, batch_size=config.eval_batch_size, shuffle=False, **_loader_options(config))


def _set_epoch(dataset: Dataset | None, epoch: int, pass_index: int = 0) -> None:
    if dataset is not None and hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch, pass_index)


@contextlib.contextmanager
def frozen_batchnorm(model: torch.nn.Module) -> Iterator[None]:
    """BatchNorm layers in eval mode for the duration: inputs are normalised with the running (source)
    statistics, which they do not update; gradients still flow to the inputs and the affine weights."""
    norms = [
        m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training
    ]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m in norms:
            m.train()


# ---------------------------------------------------------------------------------------------- models


def build_model(config: TrainConfig) -> tuple[StackedHourglass, DomainClassifier | None]:
    """The pose network and, when `adv_weight > 0`, the domain classifier (initialised from `config.seed`)."""
    torch.manual_seed(config.seed)
    model = StackedHourglass(config.model)
    classifier = None
    if config.adv_weight > 0:
        channels = config.model.num_joints if config.adv_attach == "heatmaps" else config.model.num_features
        classifier = DomainClassifier(channels, attach=config.adv_attach)
    return model, classifier


def _domain_input(heatmaps: torch.Tensor, features: torch.Tensor, attach: str) -> torch.Tensor:
    # The study fed the sum of every stack's heatmaps to its classifier, so all stacks receive the signal.
    return heatmaps.sum(dim=1) if attach == "heatmaps" else features


def _codec(config: TrainConfig) -> HeatmapCodec:
    return HeatmapCodec(config.model.input_size, config.model.heatmap_size, config.sigma)


def decode_predictions(heatmaps: torch.Tensor, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Last stack's `(B, J, H, W)` maps -> `(B, J, 2)` input-pixel joints (sub-pixel) and peak confidences."""
    maps = heatmaps.float()
    if config.loss == "ce":  # logits: decode the per-map pixel distribution
        maps = torch.softmax(maps.flatten(-2), dim=-1).view_as(maps)
    return _codec(config).decode(maps)


@torch.no_grad()
def predict(
    model: StackedHourglass, images: np.ndarray, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 `(N, S, S, 3)` images -> `(N, J, 2)` joints in input pixels and `(N, J)` confidences.

    Runs on `config`'s device (the model is moved there if it is elsewhere: model and inputs on one device)."""
    runtime = _runtime(config)
    model.to(runtime.device, memory_format=runtime.memory_format).eval()
    x = images_to_tensor(torch.as_tensor(np.asarray(images, dtype=np.uint8)), runtime)
    with runtime.autocast():
        heatmaps = model(x)
    joints, conf = decode_predictions(heatmaps[:, -1], config)
    return joints.cpu().numpy(), conf.cpu().numpy()


# ---------------------------------------------------------------------------------------------- evaluation


@torch.no_grad()
def _run_eval(
    model, classifier, loader: DataLoader, config: TrainConfig, runtime: _Runtime, views: bool = False
) -> dict:
    """Predictions (sub-pixel and argmax cells), ground truth, masks, head sizes, mean pose loss, (with a
    classifier) domain logits, and the label-free inputs (models.label_free; `views`: with the mirrored
    and jittered pass) over an `eval_loader`."""
    codec = _codec(config)

    def forward(x):
        with runtime.autocast():
            return model(x)

    collector = label_free.SplitCollector(
        config.loss, config.model.input_size, views, forward, lambda maps: decode_predictions(maps, config)[0]
    )
    keep: dict[str, list] = {k: [] for k in ("pred", "cells", "gt", "labelled", "visible", "head_size")}
    logits = []
    loss_sum, count = 0.0, 0
    was_training = model.training
    model.eval()
    if classifier is not None:
        classifier.eval()
    for batch in loader:
        x = images_to_tensor(batch["image"], runtime)
        joints = batch["joints"].to(runtime.device, non_blocking=True)
        mask = supervised_mask(batch, config).to(runtime.device, non_blocking=True)
        target, weights = codec.encode(joints, mask)
        with runtime.autocast():
            heatmaps, features = model(x, return_features=True)
            if classifier is not None:
                logits.append(classifier(_domain_input(heatmaps, features, config.adv_attach)).float().cpu())
        loss_sum += float(pose_loss(config.loss, heatmaps, target, weights)) * len(x)
        count += len(x)
        pred = decode_predictions(heatmaps[:, -1], config)[0]
        collector.add(x, heatmaps, features, target, weights, pred)
        keep["pred"].append(pred.cpu().numpy())
        keep["cells"].append(codec.argmax_cells(heatmaps[:, -1]).cpu().numpy())
        for key in ("labelled", "visible", "head_size"):
            keep[key].append(batch[key].numpy())
        keep["gt"].append(batch["joints"].numpy())
    model.train(was_training)
    if classifier is not None:
        classifier.train(was_training)
    if count == 0:
        raise ValueError("evaluation dataset is empty")
    out = {key: np.concatenate(values) for key, values in keep.items()}
    out["loss"] = loss_sum / count
    out["logits"] = torch.cat(logits).numpy() if logits else None
    out["label_free"] = collector.result()
    return out


def split_metrics(out: dict, config: TrainConfig, prefix: str) -> dict:
    """Every metric of one evaluated split (models.metrics.summarize) plus its pose loss, under `prefix`, and
    the split's label-free scores when it was evaluated with views. A split with no labelled joint at all
    (an unlabelled target) reports the label-free scores only."""
    metrics = label_free.split_scores(out.get("label_free", {}), prefix)
    if not np.asarray(out["labelled"]).any():
        return metrics
    metrics |= summarize(
        out["pred"],
        out["gt"],
        out["labelled"],
        out["visible"],
        config.model.input_size,
        config.model.heatmap_size,
        pred_cells=out["cells"],
        head_size=out["head_size"],
        prefix=prefix,
    )
    metrics[prefix + names.LOSS] = out["loss"]
    return metrics


def evaluation_outputs(
    model_or_checkpoint, dataset: Dataset, config: TrainConfig | None = None
) -> tuple[dict, TrainConfig]:
    """Predictions, ground truth and masks (per sample) of a model or a checkpoint path on one labelled split,
    and the TrainConfig they were made with: what `split_metrics` scores, kept for per-sample statistics."""
    if isinstance(model_or_checkpoint, str | os.PathLike):
        model, saved_config, _ = load_checkpoint(model_or_checkpoint)
        config = config or saved_config
    else:
        model = model_or_checkpoint
        if config is None:
            raise ValueError("evaluate() needs the TrainConfig when given a model")
    runtime = _runtime(config)
    model.to(runtime.device, memory_format=runtime.memory_format)
    return _run_eval(model, None, eval_loader(dataset, config), config, runtime, views=True), config


def evaluate(
    model_or_checkpoint, dataset: Dataset, config: TrainConfig | None = None, prefix: str = ""
) -> dict:
    """Every metric of a model (or a checkpoint path) on one labelled split, keys under `prefix`.

    Floats named in models.metric_names, plus `(J,)` per-joint arrays (`*_per_joint`).
    """
    out, config = evaluation_outputs(model_or_checkpoint, dataset, config)
    return split_metrics(out, config, prefix)


# ---------------------------------------------------------------------------------------------- checkpoints


def _numpy_rng_state() -> dict:
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


def _set_numpy_rng_state(state: dict) -> None:
    np.random.set_state(  # noqa: NPY002
        (
            state["name"],
            state["keys"].numpy().astype(np.uint32),
            state["pos"],
            state["has_gauss"],
            state["cached_gaussian"],
        )
    )


def _write_checkpoint(workdir: Path, epoch: int, state: dict, metrics: dict, keep: int | None) -> str:
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


def _state_path(path: str | os.PathLike) -> Path:
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
    state_path = _state_path(path)
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: no checkpoint there")
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    config = TrainConfig.from_dict(state["config"])
    model = StackedHourglass(config.model)
    model.load_state_dict(state["model"])
    model.eval()
    return model, config, state


# ---------------------------------------------------------------------------------------------- fit


@dataclass
class _Run:
    """Everything the phases of `fit` share: the configuration, data, networks, optimiser and progress."""

    config: TrainConfig
    data: TrainData
    runtime: _Runtime
    workdir: Path
    model: StackedHourglass
    forward: Callable
    classifier: DomainClassifier | None
    adv_loss: DomainAdversarialLoss | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    codec: HeatmapCodec
    batch_size: int
    steps_per_epoch: int
    source: DataLoader  # training batches, created once per fit (persistent workers)
    target: DataLoader | None  # unlabelled target batches when the configuration uses them
    validation: dict[str, DataLoader]  # per metric prefix, in names.VAL_PREFIXES order
    step: int = 0

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch


def fit(
    config: TrainConfig,
    data: TrainData,
    report: Callable[[dict, str], None],
    workdir: str,
    resume_from: str | None = None,
    *,
    progress: bool = False,
    keep_checkpoints: int | None = 2,
) -> dict:
    """Train `config` on `data`, reporting every metric and a checkpoint dir after every epoch.

    Returns the last epoch's metrics. `resume_from` (a checkpoint dir written by `fit`) continues exactly.
    `keep_checkpoints` keeps only the newest N checkpoint dirs in `workdir` (None keeps all).
    """
    run = _setup(config, data, workdir)
    start_epoch = 0
    if resume_from is not None:
        start_epoch = _restore(run, resume_from)
    elif config.init_from is not None:
        run.model.load_state_dict(read_warm_start(config.init_from, config.model)["model"])
    metrics: dict = {}
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        full = _train_epoch(run, epoch, progress)
        full.update(_validate(run))
        full["epoch_time_s"] = time.perf_counter() - started
        metrics = scalars(full)
        report(metrics, _checkpoint(run, epoch, full, keep_checkpoints))
    return metrics


def _setup(config: TrainConfig, data: TrainData, workdir: str) -> _Run:
    """Check the data, build the networks, the optimiser and the learning-rate schedule."""
    if config.uses_target and data.target_adapt is None:
        raise ValueError(
            "adv_weight > 0 (or target_in_bn) needs TrainData.target_adapt (unlabelled target images)"
        )
    if len(data.source_train) == 0:
        raise ValueError("source_train is empty")
    runtime = _runtime(config)
    workdir_path = Path(workdir)
    workdir_path.mkdir(parents=True, exist_ok=True)
    model, classifier = build_model(config)
    model.to(runtime.device, memory_format=runtime.memory_format)
    params = list(model.parameters())
    adv_loss = None
    if classifier is not None:
        classifier.to(runtime.device)
        adv_loss = DomainAdversarialLoss(classifier)
        params += list(classifier.parameters())
    optimizer = torch.optim.RMSprop(
        params, lr=config.lr, alpha=config.rmsprop_alpha, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, ExponentialDecay(config.lr_decay_rate, config.lr_decay_steps)
    )
    batch_size = min(config.batch_size, len(data.source_train))
    steps = config.steps_per_epoch or max(1, len(data.source_train) // batch_size)
    batches = {"batch_size": batch_size, "steps": steps}
    return _Run(
        config=config,
        data=data,
        runtime=runtime,
        workdir=workdir_path,
        model=model,
        forward=torch.compile(model) if config.compile else model,
        classifier=classifier,
        adv_loss=adv_loss,
        optimizer=optimizer,
        scheduler=scheduler,
        codec=_codec(config),
        batch_size=batch_size,
        steps_per_epoch=steps,
        source=train_loader(data.source_train, config, stream=0, **batches),
        target=train_loader(data.target_adapt, config, stream=1, **batches) if config.uses_target else None,
        validation={
            prefix: eval_loader(dataset, config)
            for prefix, dataset in zip(names.VAL_PREFIXES, (data.target_val, data.source_val), strict=True)
        },
    )


def _restore(run: _Run, resume_from: str) -> int:
    """Load weights, optimiser, schedule and RNG states from a checkpoint; returns the epoch to start at."""
    state = torch.load(_state_path(resume_from), map_location="cpu", weights_only=True)
    saved = TrainConfig.from_dict(state["config"])
    if saved.model != run.config.model or (saved.adv_weight > 0) != (run.config.adv_weight > 0):
        raise ValueError(f"{resume_from}: checkpoint was trained with a different model or adversarial setup")
    run.model.load_state_dict(state["model"])
    if run.classifier is not None:
        run.classifier.load_state_dict(state["domain_classifier"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.step = int(state["step"])
    torch.set_rng_state(state["torch_rng"])
    _set_numpy_rng_state(state["numpy_rng"])
    if run.runtime.device.type == "cuda" and state.get("cuda_rng"):
        for index, rng in cuda_rng_to_restore(state["cuda_rng"], torch.cuda.device_count()):
            torch.cuda.set_rng_state(rng, index)
    return int(state["epoch"])


def cuda_rng_to_restore(saved: list[torch.Tensor], device_count: int) -> list[tuple[int, torch.Tensor]]:
    """(device index, state) of the saved CUDA generators that exist here. A trial saved where it saw more
    GPUs resumes on a node where it sees fewer (or more): the extra states are dropped (and the extra
    devices keep their seeds); `torch.cuda.set_rng_state_all` would fail on the first missing device."""
    return list(enumerate(saved[:device_count]))


def _train_epoch(run: _Run, epoch: int, progress: bool) -> dict:
    """`steps_per_epoch` optimiser steps; the epoch's training metrics (mean losses, lr, λ, throughput)."""
    config, data = run.config, run.data
    started = time.perf_counter()
    for dataset in (data.source_val, data.target_val):
        _set_epoch(dataset, epoch)
    run.source.batch_sampler.set_epoch(epoch)
    source = iter(run.source)
    target = None
    if run.target is not None:
        run.target.batch_sampler.set_epoch(epoch)
        target = iter(run.target)
    run.model.train()
    if run.classifier is not None:
        run.classifier.train()
    sums = {"loss": 0.0, "pose": 0.0, "domain": 0.0}
    grl = 0.0
    bar = _progress(run.steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", progress)
    for _ in range(run.steps_per_epoch):
        if config.adv_weight > 0:
            grl = dann_lambda(run.step / run.total_steps) if config.adv_schedule == "dann" else 1.0
        target_images = next(target)["image"] if target is not None else None
        loss, pose, domain = _losses(run, next(source), target_images, grl)
        loss_value = loss.item()
        if not np.isfinite(loss_value):
            raise NonFiniteLossError(
                f"training loss became {loss_value} at epoch {epoch + 1}, step {run.step + 1} "
                f"(pose {pose.item()}, domain {domain.item()}, lr {run.scheduler.get_last_lr()[0]:.3g}); "
                "the run stops rather than report garbage: lower lr or adv_weight"
            )
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        run.step += 1
        sums["loss"] += loss_value
        sums["pose"] += pose.item()
        sums["domain"] += domain.item()
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4g}")
    bar.close()
    n = run.steps_per_epoch
    return {
        "epoch": float(epoch + 1),
        "step": float(run.step),
        "lr": float(run.optimizer.param_groups[0]["lr"]),
        "grl_lambda": float(grl),
        "train_loss": sums["loss"] / n,
        "train_pose_loss": sums["pose"] / n,
        "train_domain_loss": sums["domain"] / n,
        "train_images_per_s": run.batch_size * n / (time.perf_counter() - started),
    }


def _losses(run: _Run, batch: dict, target_images: torch.Tensor | None, grl: float):
    """(total, pose, domain) losses of one step.

    Target images (when the configuration uses them) reach the pose network one of two ways:
    `target_bn: shared` concatenates them with the source batch, so every BatchNorm of the pose network
    normalises both domains with shared statistics (the study's setup: an AdaBN-like effect on top of the
    gradient reversal); `target_bn: frozen` runs them in a second pass with the pose network's BatchNorm
    in eval mode, so they never enter its statistics and only the reversed gradient carries the target.
    Frozen rather than domain-specific BN because per-domain statistics would themselves be a BatchNorm
    adaptation (AdaBN, Li et al. 2016): the point is an arm with none. The classifier's own BatchNorm
    always sees both domains (it must tell them apart).
    """
    config, runtime, codec = run.config, run.runtime, run.codec
    x = images_to_tensor(batch["image"], runtime)
    heat_target, weights = codec.encode(
        batch["joints"].to(runtime.device, non_blocking=True),
        supervised_mask(batch, config).to(runtime.device, non_blocking=True),
    )
    zero = torch.zeros((), device=runtime.device)
    with runtime.autocast():
        if target_images is None:
            pose = pose_loss(config.loss, run.forward(x), heat_target, weights)
            return pose, pose, zero
        x_t = images_to_tensor(target_images, runtime)
        b = x.shape[0]
        if config.target_bn == "shared":
            heatmaps, features = run.forward(torch.cat([x, x_t]), return_features=True)
            maps = _domain_input(heatmaps, features, config.adv_attach)
            maps_s, maps_t, heatmaps = maps[:b], maps[b:], heatmaps[:b]
        else:
            heatmaps, features = run.forward(x, return_features=True)
            with frozen_batchnorm(run.model):
                heatmaps_t, features_t = run.forward(x_t, return_features=True)
            maps_s = _domain_input(heatmaps, features, config.adv_attach)
            maps_t = _domain_input(heatmaps_t, features_t, config.adv_attach)
        # The target images get no pose loss (their labels are never read), only the domain loss.
        pose = pose_loss(config.loss, heatmaps, heat_target, weights)
        domain = run.adv_loss(maps_s, maps_t, grl) if run.adv_loss is not None else zero
        return pose + config.adv_weight * domain, pose, domain


def _validate(run: _Run) -> dict:
    """Every metric on target validation and source validation, the domain classifier's accuracy, and the
    label-free scores (models.label_free: the mirrored/jittered pass on target validation only)."""
    full, logits, collected = {}, {}, {}
    for prefix, loader in run.validation.items():
        views = prefix == names.TARGET_VAL
        out = _run_eval(run.model, run.classifier, loader, run.config, run.runtime, views=views)
        if not np.isfinite(out["loss"]):
            raise NonFiniteLossError(f"{prefix}loss became {out['loss']}")
        full.update(split_metrics(out, run.config, prefix))
        logits[prefix], collected[prefix] = out["logits"], out["label_free"]
    full.update(
        label_free.cross_split_scores(
            collected[names.SOURCE_VAL], collected[names.TARGET_VAL], logits[names.SOURCE_VAL]
        )
    )
    if run.classifier is not None:
        # Accuracy of "logit > 0 means source" over source_val (label 1) and target_val (label 0).
        hits = np.concatenate([logits[names.SOURCE_VAL] > 0, logits[names.TARGET_VAL] <= 0])
        full["domain_acc"] = float(hits.mean())
    return full


def _checkpoint(run: _Run, epoch: int, metrics: dict, keep: int | None) -> str:
    """Write the end-of-epoch state atomically; returns the checkpoint dir."""
    state = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "epoch": epoch + 1,
        "step": run.step,
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": _numpy_rng_state(),
        "config": run.config.to_dict(),
    }
    if run.classifier is not None:
        state["domain_classifier"] = run.classifier.state_dict()
    if run.runtime.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return _write_checkpoint(run.workdir, epoch + 1, state, metrics, keep)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, file=sys.stderr, leave=False)
