"""Launch and resume a search: Ray Tune trials proposed by Optuna, stopped early by ASHA.

The experiment folder (`<storage>/<name>`, local or object storage) holds Tune's state, every trial's
checkpoints and W&B offline runs, `manifest.json` (resolved config, versions, git SHA) and, for local
storage, Optuna's own journal (`optuna-journal.log`) that `optuna-dashboard` opens.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.fs

from search.config import ExperimentConfig, config_from_dict, join_uri
from search.errors import ConfigError, SearchInterrupted

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
JOURNAL = "optuna-journal.log"
STUDY_NAME = "posetune"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SearchOutcome:
    """What a launch or resume left behind."""

    experiment_uri: str
    num_trials: int
    finished: int
    errored: int
    unfinished: int
    best: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.unfinished > 0


# --------------------------------------------------------------------------------------------- storage


def filesystem_for(uri: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """A pyarrow filesystem and path for a local path or an s3:// / gs:// URI."""
    if "://" not in uri:
        return pyarrow.fs.LocalFileSystem(), os.path.abspath(os.path.expanduser(uri))
    return pyarrow.fs.FileSystem.from_uri(uri)


def experiment_exists(uri: str) -> bool:
    from ray.tune import Tuner

    fs, path = filesystem_for(uri)
    return Tuner.can_restore(path, storage_filesystem=fs)


def read_manifest(uri: str) -> dict[str, Any]:
    fs, path = filesystem_for(uri)
    try:
        with fs.open_input_stream(f"{path}/{MANIFEST}") as stream:
            return json.loads(stream.readall())
    except (FileNotFoundError, OSError) as error:
        raise ConfigError(f"not a posetune experiment (no {MANIFEST}): {error}", path=uri) from error


def write_manifest(uri: str, manifest: dict[str, Any]) -> None:
    fs, path = filesystem_for(uri)
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/{MANIFEST}") as stream:
        stream.write(json.dumps(manifest, indent=2, default=str).encode())


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(PACKAGE_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    import optuna
    import ray
    import torch
    import wandb

    return {
        "python": platform.python_version(),
        "ray": ray.__version__,
        "optuna": optuna.__version__,
        "torch": torch.__version__,
        "wandb": wandb.__version__,
    }


def journal_path(uri: str) -> str:
    """Optuna's journal: inside a local experiment, or in a local cache for object storage."""
    if "://" not in uri:
        return os.path.join(filesystem_for(uri)[1], JOURNAL)
    cache = Path(os.environ.get("POSETUNE_CACHE", "~/.cache/posetune")).expanduser() / "journals"
    cache.mkdir(parents=True, exist_ok=True)
    return str(cache / (uri.replace("://", "_").replace("/", "_") + ".log"))


# --------------------------------------------------------------------------------------------- ray


def init_ray(address: str | None, env: dict[str, str]) -> None:
    """Join a cluster (`--address` or RAY_ADDRESS) or start a local Ray; workers get `env`."""
    import ray

    os.environ.update(env)  # W&B reads WANDB_MODE from the driver's environment as well
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    env_vars = dict(env)
    if address == "local":
        # Workers of a local Ray can import the checkout even when it is not pip-installed.
        env_vars["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])
        )
    ray.init(
        address=address,
        runtime_env={"env_vars": env_vars},
        include_dashboard=False,
        log_to_driver=True,
        logging_level=logging.WARNING,
    )


# --------------------------------------------------------------------------------------------- tuner


def _searcher(config: ExperimentConfig, journal: str):
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    from search.space import default_point, make_sampler, optuna_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    points = (
        [default_point(config)] if config.search.evaluate_defaults_first and config.search.space else None
    )
    return OptunaSearch(
        space=optuna_space(config),
        metric=config.search.metric,
        mode=config.search.mode,
        points_to_evaluate=points,
        sampler=make_sampler(config),
        study_name=STUDY_NAME,
        storage=storage,
    )


def _scheduler(config: ExperimentConfig):
    from ray.tune.schedulers import ASHAScheduler

    if config.scheduler.type == "none":
        return None
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=config.max_t,
        grace_period=config.scheduler.grace_period,
        reduction_factor=config.scheduler.reduction_factor,
    )


def _trainable(experiment: dict[str, Any], config: ExperimentConfig):
    from ray import tune

    from search.trainable import run_trial

    resources = {"cpu": config.resources.cpu, "gpu": config.resources.gpu}
    return tune.with_resources(tune.with_parameters(run_trial, experiment=experiment), resources)


def build_tuner(config: ExperimentConfig, uri: str, *, callbacks_extra: list | None = None, stop=None):
    """A fresh Tuner for `config` whose experiment lives at `uri` (storage path + name); `stop` is
    RunConfig's stop criterion (e.g. a tune.Stopper ending the search at a budget of trial-epochs)."""
    from ray import tune

    from search.asha_state import AshaStateCallback
    from search.tracking import tracking_callbacks

    experiment = config.to_dict()
    scheduler = _scheduler(config)
    callbacks = list(callbacks_extra or [])
    if scheduler is not None:
        callbacks.append(AshaStateCallback(scheduler))
    callbacks += tracking_callbacks(experiment, config.tracking)
    fs, path = filesystem_for(uri)
    storage_path, name = path.rsplit("/", 1)
    return tune.Tuner(
        _trainable(experiment, config),
        tune_config=tune.TuneConfig(
            metric=config.search.metric,
            mode=config.search.mode,
            search_alg=_searcher(config, journal_path(uri)),
            scheduler=scheduler,
            num_samples=config.search.num_samples,
            max_concurrent_trials=config.search.max_concurrent,
            time_budget_s=config.search.time_budget_s,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage_path,
            storage_filesystem=fs,
            failure_config=tune.FailureConfig(max_failures=config.failure.max_failures),
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=config.storage.keep_checkpoints,
                checkpoint_score_attribute=config.search.metric,
                checkpoint_score_order=config.search.mode,
            ),
            callbacks=callbacks,
            stop=stop,
            verbose=1,
        ),
    )


class _TermAsGracefulStop:
    """Turn SIGTERM (a cluster stopping the driver) into Tune's graceful SIGUSR1 stop for the block."""

    def __enter__(self):
        self._previous = None
        if hasattr(signal, "SIGUSR1"):
            try:
                self._previous = signal.signal(
                    signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGUSR1)
                )
            except ValueError:  # not the main thread
                self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _outcome(uri: str, config: ExperimentConfig, timings: dict[str, float]) -> SearchOutcome:
    from ray.tune import ExperimentAnalysis

    fs, path = filesystem_for(uri)
    analysis = ExperimentAnalysis(path, storage_filesystem=fs)
    statuses = [trial.status for trial in analysis.trials]
    finished = sum(s == "TERMINATED" for s in statuses)
    errored = sum(s == "ERROR" for s in statuses)
    best = None
    try:
        trial = analysis.get_best_trial(config.search.metric, config.search.mode, scope="all")
        if trial is not None:
            frame = analysis.trial_dataframes[trial.trial_id]
            row = frame.loc[
                frame[config.search.metric].idxmax()
                if config.search.mode == "max"
                else frame[config.search.metric].idxmin()
            ]
            best = {"trial_id": trial.trial_id, "config": trial.config, "metrics": row.to_dict()}
    except (KeyError, ValueError):
        best = None
    return SearchOutcome(
        experiment_uri=uri,
        num_trials=len(statuses),
        finished=finished,
        errored=errored,
        unfinished=len(statuses) - finished - errored,
        best=best,
        timings=timings,
    )


def launch(
    config: ExperimentConfig,
    *,
    name: str | None = None,
    storage: str | None = None,
    address: str | None = None,
    if_exists: str = "error",
) -> SearchOutcome:
    """Prepare the shards, then run the search of `config`; `if_exists` is "error" or "resume"."""
    from search.data import prepare_shards
    from search.tracking import resolve_mode, wandb_env

    if storage:
        config = config_from_dict(
            {**config.to_dict(), "storage": {**config.to_dict()["storage"], "path": storage}}
        )
    name = name or f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    uri = join_uri(config.storage.path, name)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    init_ray(address, wandb_env(resolve_mode(config.tracking)))
    timings["ray_init_s"] = time.perf_counter() - start

    if experiment_exists(uri):
        if if_exists == "resume":
            log.warning("experiment %s exists: resuming it", uri)
            return resume(uri, address=address)
        raise ConfigError(
            "an experiment of this name already exists; continue it with "
            f"`posetune search resume {uri}` or pass --resume-if-exists, or choose another --name",
            path=uri,
        )
    from search.cluster import check_resources_satisfiable

    check_resources_satisfiable({"CPU": config.resources.cpu, "GPU": config.resources.gpu})

    start = time.perf_counter()
    prepare_shards(config)
    timings["data_s"] = time.perf_counter() - start

    write_manifest(
        uri,
        {
            "name": name,
            "experiment_uri": uri,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": config.to_dict(),
            "versions": _versions(),
            "git_sha": _git_sha(),
            "command": sys.argv,
            "optuna_journal": journal_path(uri),
        },
    )
    return _fit(build_tuner(config, uri), uri, config, timings)


def resume(uri: str, *, address: str | None = None) -> SearchOutcome:
    """Continue an interrupted or crashed experiment: finished trials stay, the searcher and ASHA's
    rungs are restored, unfinished and errored trials continue from their last checkpoint."""
    from ray.tune import Tuner

    from search.tracking import resolve_mode, wandb_env

    manifest = read_manifest(uri)
    config = config_from_dict(manifest["config"], path=f"{uri}/{MANIFEST}")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    init_ray(address, wandb_env(resolve_mode(config.tracking)))
    timings["ray_init_s"] = time.perf_counter() - start
    if not experiment_exists(uri):
        raise ConfigError("no Tune experiment state to resume here (was it launched?)", path=uri)
    fs, path = filesystem_for(uri)
    tuner = Tuner.restore(
        path,
        trainable=_trainable(config.to_dict(), config),
        resume_unfinished=True,
        resume_errored=True,
        storage_filesystem=fs,
    )
    return _fit(tuner, uri, config, timings)


def _fit(tuner, uri: str, config: ExperimentConfig, timings: dict[str, float]) -> SearchOutcome:
    """Run the Tuner (SIGTERM stops it gracefully), keep Optuna's journal, and sum up what happened."""
    start = time.perf_counter()
    with _TermAsGracefulStop():
        tuner.fit()
    timings["search_s"] = time.perf_counter() - start
    _sync_journal(uri)
    return _outcome(uri, config, timings)


def _sync_journal(uri: str) -> None:
    """Copy the local Optuna journal into object storage next to the experiment."""
    if "://" not in uri:
        return
    fs, path = filesystem_for(uri)
    try:
        with open(journal_path(uri), "rb") as source, fs.open_output_stream(f"{path}/{JOURNAL}") as target:
            target.write(source.read())
    except OSError as error:
        log.warning("could not copy the Optuna journal to %s: %s", uri, error)


def raise_if_interrupted(outcome: SearchOutcome) -> None:
    if outcome.interrupted:
        raise SearchInterrupted(
            f"{outcome.unfinished} of {outcome.num_trials} trials did not finish; continue with "
            f"`posetune search resume {outcome.experiment_uri}`"
        )
