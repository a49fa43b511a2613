"""Inference and evaluation of a trained network: `predict` on raw images, and every metric of a model (or
a checkpoint) on one labelled split, the label-free scores (models.label_free) included."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from models import label_free
from models import metric_names as names
from models.adversarial import domain_input
from models.checkpoints import load_checkpoint
from models.config import TrainConfig
from models.hourglass import StackedHourglass
from models.loaders import eval_loader
from models.losses import pose_loss
from models.metrics import summarize
from models.runtime import Runtime, images_to_tensor
from models.targets import decode_predictions, heatmap_codec, heatmap_targets


@torch.no_grad()
def predict(
    model: StackedHourglass, images: np.ndarray, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 `(N, S, S, 3)` images -> `(N, J, 2)` joints in input pixels and `(N, J)` confidences.

    Runs on `config`'s device (the model is moved there if it is elsewhere: model and inputs on one device)."""
    runtime = Runtime.from_config(config)
    model.to(runtime.device, memory_format=runtime.memory_format).eval()
    x = images_to_tensor(torch.as_tensor(np.asarray(images, dtype=np.uint8)), runtime)
    with runtime.autocast():
        heatmaps = model(x)
    joints, conf = decode_predictions(heatmaps[:, -1], config)
    return joints.cpu().numpy(), conf.cpu().numpy()


@torch.no_grad()
def run_eval(
    model, classifier, loader: DataLoader, config: TrainConfig, runtime: Runtime, views: bool = False
) -> dict:
    """Predictions (sub-pixel and argmax cells), ground truth, masks, head sizes, mean pose loss, (with a
    classifier) domain logits, and the label-free inputs (models.label_free; `views`: with the mirrored
    and jittered pass) over an `eval_loader`."""
    codec = heatmap_codec(config)

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
        target, weights = heatmap_targets(codec, batch, config, runtime.device)
        with runtime.autocast():
            heatmaps, features = model(x, return_features=True)
            if classifier is not None:
                logits.append(classifier(domain_input(heatmaps, features, config.adv_attach)).float().cpu())
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
    runtime = Runtime.from_config(config)
    model.to(runtime.device, memory_format=runtime.memory_format)
    return run_eval(model, None, eval_loader(dataset, config), config, runtime, views=True), config


def evaluate(
    model_or_checkpoint, dataset: Dataset, config: TrainConfig | None = None, prefix: str = ""
) -> dict:
    """Every metric of a model (or a checkpoint path) on one labelled split, keys under `prefix`.

    Floats named in models.metric_names, plus `(J,)` per-joint arrays (`*_per_joint`).
    """
    out, config = evaluation_outputs(model_or_checkpoint, dataset, config)
    return split_metrics(out, config, prefix)
