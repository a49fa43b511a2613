"""The Tune trial: one configuration's `models.fit`, reporting every epoch with a checkpoint.

Trials read the Parquet shards with pyarrow (ShardDataset), never with Ray Data: Ray Data inside a trial
deadlocks once trials hold every CPU (ray-project/ray#29662).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from data_pipeline.loader import ShardDataset
from models.train import TrainData, fit
from search.config import ExperimentConfig, config_from_dict
from search.data import shard_dir

OVERLAY_SAMPLES = 4


def build_train_data(config: ExperimentConfig, brightness: bool | None = None) -> TrainData:
    """The four datasets `fit` needs, read from this config's shards."""
    root = shard_dir(config, brightness)
    size, seed = config.model.input_size, config.train.seed
    # Target images are real photos: they get the geometric augmentation but never the synthetic occluder.
    target_augment = dataclasses.replace(config.augment, occlusion_prob=0.0)
    return TrainData(
        source_train=ShardDataset(
            root, "source", "train", size, config.augment, seed=seed, limit=config.data.max_source_train
        ),
        source_val=ShardDataset(root, "source", "val", size, None, seed=seed),
        target_val=ShardDataset(root, "target", "val", size, None, seed=seed),
        target_adapt=(
            ShardDataset(root, "target", "adapt", size, target_augment, seed=seed + 1)
            if config.train.adv_weight > 0
            else None
        ),
    )


def trial_config(params: dict[str, Any], experiment: dict[str, Any]) -> ExperimentConfig:
    """The experiment config with this trial's searched values set."""
    return config_from_dict(experiment).with_params(params)


def run_trial(params: dict[str, Any], experiment: dict[str, Any]) -> None:
    """Tune function trainable: resumes from Tune's checkpoint when the trial is restored or retried."""
    from ray import tune

    config = trial_config(params, experiment)
    brightness = params.get("data.brightness", config.data.brightness)
    data = build_train_data(config, brightness)
    every = max(1, config.tracking.images_every)
    workdir = tempfile.mkdtemp(prefix="posetune-trial-")

    def report(metrics: dict[str, float], checkpoint_dir: str) -> None:
        if (
            config.tracking.log_images
            and config.tracking.wandb != "none"
            and int(metrics["epoch"]) % every == 0
        ):
            write_overlay(checkpoint_dir, data.target_val)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))

    checkpoint = tune.get_checkpoint()
    try:
        with checkpoint.as_directory() if checkpoint else contextlib.nullcontext() as resume_from:
            fit(config.train_config(), data, report, workdir=workdir, resume_from=resume_from)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def write_overlay(checkpoint_dir: str, dataset, n: int = OVERLAY_SAMPLES) -> None:
    """Predictions of the checkpoint drawn over the first target-val images, as predictions.png."""
    from models.overlay import render_checkpoint
    from search.tracking import OVERLAY_FILE

    render_checkpoint(checkpoint_dir, dataset, Path(checkpoint_dir) / OVERLAY_FILE, n=n)
