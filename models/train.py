"""`fit()`: train one configuration of the stacked hourglass, optionally domain-adversarial. Knows nothing of Ray.

`fit` is a loop over named phases: restore (from a checkpoint), train one epoch (`steps_per_epoch`
RMSprop steps on labelled source batches, plus one unlabelled target batch per step when the
configuration uses target images), validate (labelled target-validation and source-validation splits),
checkpoint (atomically) and report. Batches are drawn from per-(seed, epoch, pass) shuffles, so resuming
from a checkpoint replays exactly the batches, weights and learning rates of an uninterrupted run.

The phases are public (`setup_run`, `train_epoch`, `step_losses`, `validate`) so that a benchmark can time
one of them alone. What they stand on lives in modules named after it: `models.loaders` (the data and its
batches), `models.checkpoints` (checkpoint I/O), `models.evaluation` (predict, evaluate), `models.runtime`
(device and precision), `models.targets` (heatmap targets and decoding).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from models import label_free
from models import metric_names as names
from models.adversarial import DomainAdversarialLoss, DomainClassifier, dann_lambda, domain_input
from models.checkpoints import (
    cuda_rng_to_restore,
    numpy_rng_state,
    read_warm_start,
    set_numpy_rng_state,
    state_file,
    write_checkpoint,
)
from models.config import TrainConfig
from models.evaluation import run_eval, split_metrics
from models.heatmaps import HeatmapCodec
from models.hourglass import StackedHourglass
from models.loaders import TrainData, eval_loader, set_epoch, train_loader
from models.losses import pose_loss
from models.metrics import scalars
from models.runtime import Runtime, images_to_tensor
from models.targets import heatmap_codec, heatmap_targets

__all__ = [
    "NonFiniteLossError",
    "Run",
    "build_model",
    "fit",
    "setup_run",
    "step_losses",
    "train_epoch",
    "validate",
]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the run stops instead of reporting garbage."""


class ExponentialDecay:
    """lr multiplier rate^(step / decay_steps) (TF's exponential_decay, non-staircase), a picklable callable."""

    def __init__(self, rate: float, decay_steps: int):
        self.rate, self.decay_steps = float(rate), int(decay_steps)

    def __call__(self, step: int) -> float:
        return self.rate ** (step / self.decay_steps)


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


def build_model(config: TrainConfig) -> tuple[StackedHourglass, DomainClassifier | None]:
    """The pose network and, when `adv_weight > 0`, the domain classifier (initialised from `config.seed`)."""
    torch.manual_seed(config.seed)
    model = StackedHourglass(config.model)
    classifier = None
    if config.adv_weight > 0:
        channels = config.model.num_joints if config.adv_attach == "heatmaps" else config.model.num_features
        classifier = DomainClassifier(channels, attach=config.adv_attach)
    return model, classifier


@dataclass
class Run:
    """Everything the phases of `fit` share: the configuration, data, networks, optimiser and progress."""

    config: TrainConfig
    data: TrainData
    runtime: Runtime
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
    run = setup_run(config, data, workdir)
    start_epoch = 0
    if resume_from is not None:
        start_epoch = _restore(run, resume_from)
    elif config.init_from is not None:
        run.model.load_state_dict(read_warm_start(config.init_from, config.model)["model"])
    metrics: dict = {}
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        full = train_epoch(run, epoch, progress)
        full.update(validate(run))
        full["epoch_time_s"] = time.perf_counter() - started
        metrics = scalars(full)
        report(metrics, _checkpoint(run, epoch, full, keep_checkpoints))
    return metrics


def setup_run(config: TrainConfig, data: TrainData, workdir: str) -> Run:
    """The `Run` every phase of `fit` shares: check the data, build the networks, the optimiser, the
    learning-rate schedule and the loaders (their workers start on first use)."""
    if config.uses_target and data.target_adapt is None:
        raise ValueError(
            "adv_weight > 0 (or target_in_bn) needs TrainData.target_adapt (unlabelled target images)"
        )
    if len(data.source_train) == 0:
        raise ValueError("source_train is empty")
    runtime = Runtime.from_config(config)
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
    return Run(
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
        codec=heatmap_codec(config),
        batch_size=batch_size,
        steps_per_epoch=steps,
        source=train_loader(data.source_train, config, stream=0, **batches),
        target=train_loader(data.target_adapt, config, stream=1, **batches) if config.uses_target else None,
        validation={
            prefix: eval_loader(dataset, config)
            for prefix, dataset in zip(names.VAL_PREFIXES, (data.target_val, data.source_val), strict=True)
        },
    )


def _restore(run: Run, resume_from: str) -> int:
    """Load weights, optimiser, schedule and RNG states from a checkpoint; returns the epoch to start at."""
    state = torch.load(state_file(resume_from), map_location="cpu", weights_only=True)
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
    set_numpy_rng_state(state["numpy_rng"])
    if run.runtime.device.type == "cuda" and state.get("cuda_rng"):
        for index, rng in cuda_rng_to_restore(state["cuda_rng"], torch.cuda.device_count()):
            torch.cuda.set_rng_state(rng, index)
    return int(state["epoch"])


def train_epoch(run: Run, epoch: int, progress: bool) -> dict:
    """`steps_per_epoch` optimiser steps; the epoch's training metrics (mean losses, lr, λ, throughput)."""
    config, data = run.config, run.data
    started = time.perf_counter()
    for dataset in (data.source_val, data.target_val):
        set_epoch(dataset, epoch)
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
        loss, pose, domain = step_losses(run, next(source), target_images, grl)
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


def step_losses(run: Run, batch: dict, target_images: torch.Tensor | None, grl: float):
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
    heat_target, weights = heatmap_targets(codec, batch, config, runtime.device)
    zero = torch.zeros((), device=runtime.device)
    with runtime.autocast():
        if target_images is None:
            pose = pose_loss(config.loss, run.forward(x), heat_target, weights)
            return pose, pose, zero
        x_t = images_to_tensor(target_images, runtime)
        b = x.shape[0]
        if config.target_bn == "shared":
            heatmaps, features = run.forward(torch.cat([x, x_t]), return_features=True)
            maps = domain_input(heatmaps, features, config.adv_attach)
            maps_s, maps_t, heatmaps = maps[:b], maps[b:], heatmaps[:b]
        else:
            heatmaps, features = run.forward(x, return_features=True)
            with frozen_batchnorm(run.model):
                heatmaps_t, features_t = run.forward(x_t, return_features=True)
            maps_s = domain_input(heatmaps, features, config.adv_attach)
            maps_t = domain_input(heatmaps_t, features_t, config.adv_attach)
        # The target images get no pose loss (their labels are never read), only the domain loss.
        pose = pose_loss(config.loss, heatmaps, heat_target, weights)
        domain = run.adv_loss(maps_s, maps_t, grl) if run.adv_loss is not None else zero
        return pose + config.adv_weight * domain, pose, domain


def validate(run: Run) -> dict:
    """Every metric on target validation and source validation, the domain classifier's accuracy, and the
    label-free scores (models.label_free: the mirrored/jittered pass on target validation only)."""
    full, logits, collected = {}, {}, {}
    for prefix, loader in run.validation.items():
        views = prefix == names.TARGET_VAL
        out = run_eval(run.model, run.classifier, loader, run.config, run.runtime, views=views)
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


def _checkpoint(run: Run, epoch: int, metrics: dict, keep: int | None) -> str:
    """Write the end-of-epoch state atomically; returns the checkpoint dir."""
    state = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "epoch": epoch + 1,
        "step": run.step,
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": numpy_rng_state(),
        "config": run.config.to_dict(),
    }
    if run.classifier is not None:
        state["domain_classifier"] = run.classifier.state_dict()
    if run.runtime.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return write_checkpoint(run.workdir, epoch + 1, state, metrics, keep)


def _progress(total: int, desc: str, enabled: bool):
    return tqdm(total=total, desc=desc, disable=not enabled, file=sys.stderr, leave=False)
