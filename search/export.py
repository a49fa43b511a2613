"""Export the best checkpoint of a search as one model file (and optionally ONNX).

The best checkpoint is found from Tune's JSON results (`search.results.tune_files`), never through Tune's
ExperimentAnalysis (which unpickles fields of the experiment folder), and its weights are loaded with
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow.fs

from data_pipeline.errors import DataError
from data_pipeline.outputs import check_output
from models import metric_names as names
from models.checkpoints import load_checkpoint
from models.export import export_onnx, is_exported, is_exported_onnx, save_exported
from search.credentials import redact
from search.errors import ConfigError
from search.experiment import Experiment
from search.results.best import best_by
from search.results.tune_files import NoTuneResults, kept_checkpoints, read_trials


def best_checkpoint(experiment: Experiment | str, metric: str | None = None, mode: str | None = None):
    """(trial, checkpoint folder on the experiment's filesystem, its metrics) over every kept checkpoint of
    the experiment (its handle or URI)."""
    experiment = Experiment.of(experiment)
    config = experiment.config()
    metric = metric or config.search.metric
    mode = mode or (names.MODES.get(metric) or config.search.mode)
    fs = experiment.filesystem
    try:
        trials = read_trials(fs, experiment.path)
    except NoTuneResults as error:
        raise ConfigError(f"no trial results ({error})", path=experiment.uri) from None
    kept = [(trial, folder, row) for trial in trials for folder, row in kept_checkpoints(fs, trial)]
    best = best_by(kept, lambda entry: entry[2].get(metric), mode)
    if best is None:
        raise ConfigError(f"no kept checkpoint reports {metric!r}; nothing to export", path=experiment.uri)
    return best


def export_outputs(uri: str, out: str, *, onnx: bool = False, overwrite: bool = False) -> list[Path]:
    """The files `export_best` writes (`out`, and `<out>.onnx` with `onnx`), checked by the output rule
    (`data_pipeline.outputs`): never inside the experiment, never over a file posetune did not export."""
    paths = [Path(out).expanduser()]
    if onnx:
        paths.append(paths[0].with_suffix(".onnx"))
    for path, owned in zip(paths, (is_exported, is_exported_onnx), strict=False):
        check_output(path, folder=False, inputs=[uri], overwrite=overwrite, owned=owned)
    if len(set(paths)) < len(paths):
        raise ConfigError("names the .onnx file itself: give the model file's name (e.g. best.pt)", key="--out")
    return paths


def export_best(
    uri: str,
    *,
    out: str = "best.pt",
    metric: str | None = None,
    mode: str | None = None,
    onnx: bool = False,
    overwrite: bool = False,
) -> list[str]:
    """Write the best checkpoint as a self-contained model file; returns the files written."""
    paths = export_outputs(uri, out, onnx=onnx, overwrite=overwrite)  # before anything is read
    experiment = Experiment(uri)
    trial, folder, metrics = best_checkpoint(experiment, metric, mode)
    with tempfile.TemporaryDirectory(prefix="posetune-export-") as local:
        pyarrow.fs.copy_files(
            folder,
            local,
            source_filesystem=experiment.filesystem,
            destination_filesystem=pyarrow.fs.LocalFileSystem(),
        )
        try:
            model, train_config, _ = load_checkpoint(local)
        except Exception as error:  # weights_only refuses pickled code; a damaged file fails to parse
            raise DataError(folder, f"not a loadable checkpoint ({type(error).__name__})") from None
    written = [
        str(
            save_exported(
                paths[0],
                model,
                train_config,
                metrics=metrics,
                hyperparameters=redact(dict(trial.config)),
                provenance=redact({"experiment": uri, "trial_id": trial.trial_id, "checkpoint": folder}),
            )
        )
    ]
    if onnx:
        written.append(str(export_onnx(model, train_config, paths[1])))
    return written
