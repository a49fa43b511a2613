"""Export the best checkpoint of a search as one model file (and optionally ONNX)."""

from __future__ import annotations

from pathlib import Path

from ray.tune import ExperimentAnalysis, ResultGrid

from data_pipeline import storage
from models.export import export_onnx, save_exported
from models.train import load_checkpoint
from search.best import best_by
from search.errors import ConfigError
from search.experiment import experiment_config


def best_checkpoint(uri: str, metric: str | None = None, mode: str | None = None):
    """(Result, its best Checkpoint, that checkpoint's metrics) over every trial's kept checkpoints."""
    config = experiment_config(uri)
    metric = metric or config.search.metric
    mode = mode or config.search.mode
    fs, path = storage.resolve(uri)
    analysis = ExperimentAnalysis(path, storage_filesystem=fs, default_metric=metric, default_mode=mode)
    kept = [
        (result, checkpoint, metrics)
        for result in ResultGrid(analysis)
        for checkpoint, metrics in result.best_checkpoints or []
    ]
    best = best_by(kept, lambda entry: entry[2].get(metric), mode)
    if best is None:
        raise ConfigError(f"no checkpoint reports {metric!r}; nothing to export", path=uri)
    return best


def export_best(
    uri: str, *, out: str = "best.pt", metric: str | None = None, mode: str | None = None, onnx: bool = False
) -> list[str]:
    """Write the best checkpoint as a self-contained model file; returns the files written."""
    result, checkpoint, metrics = best_checkpoint(uri, metric, mode)
    with checkpoint.as_directory() as directory:
        model, train_config, _ = load_checkpoint(directory)
    written = [
        str(
            save_exported(
                out,
                model,
                train_config,
                metrics=metrics,
                hyperparameters=dict(result.config),
                provenance={
                    "experiment": uri,
                    "trial_id": metrics.get("trial_id"),
                    "checkpoint": checkpoint.path,
                },
            )
        )
    ]
    if onnx:
        written.append(str(export_onnx(model, train_config, Path(out).with_suffix(".onnx"))))
    return written
