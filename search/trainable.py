"""The Tune trial: one configuration's `models.fit`, reporting every epoch with a checkpoint."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ray import tune

from models.overlay import render_checkpoint
from models.train import fit
from search.config import ExperimentConfig, config_from_dict
from search.shards import build_train_data
from search.tracking import OVERLAY_FILE

OVERLAY_SAMPLES = 4


def trial_config(params: dict[str, Any], experiment: dict[str, Any]) -> ExperimentConfig:
    """The experiment config with this trial's searched values set."""
    return config_from_dict(experiment).with_params(params)


def run_trial(params: dict[str, Any], experiment: dict[str, Any]) -> None:
    """Tune function trainable: resumes from Tune's checkpoint when the trial is restored or retried."""
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
    render_checkpoint(checkpoint_dir, dataset, Path(checkpoint_dir) / OVERLAY_FILE, n=n)
