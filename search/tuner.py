"""Build and run Tuners: Ray Tune trials proposed by Optuna, stopped early by ASHA; launch and resume.

Where an experiment lives and what its folder holds: `search.experiment`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import optuna
import pyarrow.fs
from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
from ray.tune.schedulers import ASHAScheduler

from data_pipeline import storage
from data_pipeline.outputs import check_kind
from search.asha_state import AshaStateCallback
from search.cluster import start_ray
from search.config import ExperimentConfig
from search.console import progress_callbacks
from search.credentials import has_redacted
from search.errors import ConfigError, SearchFailed, SearchInterrupted
from search.experiment import EXPERIMENT_MANIFEST, Experiment, experiment_uri
from search.results.trials import TrialRow, best_row, collect
from search.results.tune_files import error_summary, read_trials
from search.searcher import TruthfulOptunaSearch
from search.shards import check_splits, prepare_shards
from search.space import default_point, make_sampler, optuna_space
from search.stop_signals import GracefulStop
from search.tracking import tracking_callbacks
from search.trainable import run_trial
from search.warm_start import check_warm_start, prepare_warm_start

log = logging.getLogger(__name__)


@dataclass
class SearchOutcome:
    """What a launch or resume left behind."""

    experiment_uri: str
    num_trials: int
    finished: int
    errored: int
    unfinished: int
    not_started: int = 0  # trials of the budget the searcher had not proposed when a stop signal came
    best: TrialRow | None = None
    timings: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # errored trial id -> its exception, one line

    @property
    def interrupted(self) -> bool:
        return self.unfinished > 0 or self.not_started > 0

    @property
    def failed(self) -> bool:
        """Every trial ran and none finished: the search produced nothing."""
        return self.num_trials > 0 and self.finished == 0 and not self.interrupted


def full_budget(config: ExperimentConfig) -> int:
    """A trial's full budget in epochs: ASHA's last rung (max_t), or all its epochs without ASHA."""
    if config.scheduler.type == "none":
        return config.train.epochs
    return min(config.max_t, config.train.epochs)


def build_searcher(
    config: ExperimentConfig, experiment: Experiment | str, sampler: optuna.samplers.BaseSampler | None = None
) -> TruthfulOptunaSearch:
    """The experiment's Optuna study (named after the experiment, in its journal) behind Tune's searcher
    API; `sampler` replaces the config's (a benchmark comparing Optuna's samplers)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    experiment = Experiment.of(experiment)
    points = (
        [default_point(config)] if config.search.evaluate_defaults_first and config.search.space else None
    )
    return TruthfulOptunaSearch(
        space=optuna_space(config),
        metric=config.search.metric,
        mode=config.search.mode,
        points_to_evaluate=points,
        sampler=sampler or make_sampler(config),
        study_name=experiment.name,
        storage=experiment.journal_storage(),
        budget=full_budget(config),
    )


def build_scheduler(config: ExperimentConfig) -> ASHAScheduler | None:
    """The config's early stopping: ASHA over training iterations (epochs), or none."""
    if config.scheduler.type == "none":
        return None
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=config.max_t,
        grace_period=config.scheduler.grace_period,
        reduction_factor=config.scheduler.reduction_factor,
    )


def with_trial_resources(trainable, config: ExperimentConfig, **parameters):
    """`trainable` with its fixed arguments attached and the config's per-trial resources."""
    resources = {"cpu": config.resources.cpu, "gpu": config.resources.gpu}
    return tune.with_resources(tune.with_parameters(trainable, **parameters), resources)


def run_config(
    config: ExperimentConfig,
    experiment: Experiment | str,
    *,
    callbacks: list,
    checkpoint_config: tune.CheckpointConfig,
    stop=None,
) -> tune.RunConfig:
    """The RunConfig of every posetune Tuner: the experiment (its handle or URI), the config's retry policy."""
    experiment = Experiment.of(experiment)
    storage_path = experiment.path.rsplit("/", 1)[0]
    # Tune's JSON and CSV result files (what inspect, export and the study read), and not its TensorBoard
    # files: W&B is the dashboard, and the TensorBoard writer cost the driver ~11 ms per result.
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    return tune.RunConfig(
        name=experiment.name,
        storage_path=storage_path,
        storage_filesystem=experiment.filesystem,
        failure_config=tune.FailureConfig(max_failures=config.failure.max_failures),
        checkpoint_config=checkpoint_config,
        callbacks=[*callbacks, JsonLoggerCallback(), CSVLoggerCallback()],
        stop=stop,
        # Tune's status tables on the console, or none: ConsoleProgress prints a line per trial-epoch.
        verbose=1 if config.tracking.console == "ray" else 0,
    )


def build_tuner(
    config: ExperimentConfig,
    uri: Experiment | str,
    *,
    callbacks_extra: list | None = None,
    stop=None,
    trainable=run_trial,
    trainable_args: dict | None = None,
):
    """A fresh Tuner for `config` whose experiment lives at `uri` (or its handle); `stop` is
    RunConfig's stop criterion (e.g. a tune.Stopper ending the search at a budget of trial-epochs).
    `trainable(params, experiment, **trainable_args)` is the product's trial unless a benchmark replays
    recorded curves through the same searcher and scheduler (bench/search_efficiency.py)."""
    experiment, where = config.to_dict(), Experiment.of(uri)
    scheduler = build_scheduler(config)
    callbacks = list(callbacks_extra or [])
    if scheduler is not None:
        callbacks.append(AshaStateCallback(scheduler))
    callbacks += tracking_callbacks(experiment, config.tracking)
    callbacks += progress_callbacks(
        config.tracking.console, list(config.search.space), config.max_t, config.search.metric
    )
    return tune.Tuner(
        with_trial_resources(trainable, config, experiment=experiment, **(trainable_args or {})),
        tune_config=tune.TuneConfig(
            metric=config.search.metric,
            mode=config.search.mode,
            search_alg=build_searcher(config, where),
            scheduler=scheduler,
            num_samples=config.search.num_samples,
            max_concurrent_trials=config.search.max_concurrent,
            time_budget_s=config.search.time_budget_s,
            reuse_actors=config.search.reuse_actors,
        ),
        run_config=run_config(
            config,
            where,
            callbacks=callbacks,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=config.storage.keep_checkpoints,
                checkpoint_score_attribute=config.search.metric,
                checkpoint_score_order=config.search.mode,
            ),
            stop=stop,
        ),
    )


def _outcome(experiment: Experiment, timings: dict[str, float], *, stopped: bool = False) -> SearchOutcome:
    """What the experiment's files say happened; `stopped`: a stop signal ended the search, so trials of the
    budget that were never proposed are still to run."""
    config, rows, extra = collect(experiment)
    errors = {
        trial.trial_id: error_summary(experiment.filesystem, trial) or "no error.txt"
        for trial in extra["trials"]
        if trial.status == "ERROR"
    }
    finished = sum(r.status == "TERMINATED" for r in rows)
    errored = sum(r.status == "ERROR" for r in rows)
    return SearchOutcome(
        experiment_uri=experiment.uri,
        num_trials=len(rows),
        finished=finished,
        errored=errored,
        unfinished=len(rows) - finished - errored,
        not_started=max(0, config.search.num_samples - len(rows)) if stopped else 0,
        best=best_row(rows, config.search.metric, config.search.mode),
        timings=timings,
        errors=errors,
    )


def check_launch(config: ExperimentConfig, name: str) -> str:
    """Every refusal a launch makes before Ray starts, and the experiment URI it would write; `posetune
    search launch --check` stops here."""
    return _new_experiment(config, name).uri


def _new_experiment(config: ExperimentConfig, name: str) -> Experiment:
    """The experiment a launch would write, after every refusal it makes before Ray starts: an experiment
    of that name (never mixed into), shards that exist but lack a split the trials read, a given
    warm-start checkpoint that is missing or corrupt, a storage path that is a file or lies under one."""
    check_kind(config.storage.path, folder=True, flag="--storage")
    experiment = Experiment.create(
        config.storage.path,
        name,
        exists="an experiment of this name already exists; continue it with "
        "`posetune search resume {uri}` or pass --resume-if-exists, or choose another --name",
    )
    check_splits(config)
    check_warm_start(config)
    return experiment


def launch(
    config: ExperimentConfig,
    *,
    name: str | None = None,
    address: str | None = None,
    if_exists: str = "error",
    callbacks: list | None = None,
) -> SearchOutcome:
    """Prepare the shards, then run the search of `config`; `if_exists` is "error" or "resume";
    `callbacks`: Tune callbacks of your own (logging, alerts) beside the project's."""
    name = name or f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if if_exists == "resume":
        existing = Experiment(experiment_uri(config.storage.path, name))
        if existing.exists():
            log.warning("experiment %s exists: resuming it", existing.uri)
            return resume(existing.uri, address=address)
    experiment = _new_experiment(config, name)
    timings = {"ray_start_s": start_ray(config, address)}

    start = time.perf_counter()
    prepare_shards(config)
    check_splits(config)  # shards made just now
    timings["data_s"] = time.perf_counter() - start

    experiment.write_manifest(name, config)
    start = time.perf_counter()
    config = prepare_warm_start(config, experiment)  # pretrains once when asked; checked before any trial
    timings["warm_start_s"] = time.perf_counter() - start
    return _fit(build_tuner(config, experiment, callbacks_extra=callbacks), experiment, timings)


def resume(uri: str, *, address: str | None = None, more: int = 0) -> SearchOutcome:
    """Continue an interrupted or crashed experiment: finished trials stay, the searcher and ASHA's
    rungs are restored, unfinished and errored trials continue from their last checkpoint. `more` adds
    that many trials, proposed by the same Optuna study and judged by the same ASHA rungs."""
    if more < 0:
        raise ConfigError(f"must be at least 0, got {more}", key="--more")
    experiment = Experiment(uri)
    manifest = experiment.read_manifest()  # before anything reads Tune's pickled state
    if more:
        manifest["config"]["search"]["num_samples"] += more
    config = experiment.config(manifest)
    redacted = [k for k in has_redacted(manifest["config"]) if k.startswith("data.")]
    if redacted:
        raise ConfigError(
            "holds credentials that were redacted from the manifest; give storage credentials through "
            "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...) rather than inside URIs",
            path=storage.join(uri, EXPERIMENT_MANIFEST),
            key=redacted[0],
        )
    experiment.refuse_if_missing("no Tune experiment state to resume here (was it launched?)")
    trials = read_trials(experiment.filesystem, experiment.path)
    if trials and all(t.status == "TERMINATED" for t in trials) and len(trials) >= config.search.num_samples:
        raise ConfigError(
            f"all {len(trials)} trials of this search finished: nothing to resume "
            f"(`posetune search resume {uri} --more N` adds N trials)",
            path=uri,
        )
    config = prepare_warm_start(config, experiment)  # the recorded checkpoint, checked; never trained again
    timings = {"ray_start_s": start_ray(config, address)}
    if more:
        _add_samples(experiment.filesystem, experiment.path, more)
        experiment.write_manifest_dict(manifest)
    # The restored searcher opens the journal at the path the first driver used: put it there first.
    experiment.fetch_journal(manifest.get("optuna_journal") or experiment.journal_path())
    tuner = experiment.restore_tuner(with_trial_resources(run_trial, config, experiment=config.to_dict()))
    return _fit(tuner, experiment, timings)


def _add_samples(fs, path: str, more: int) -> None:
    """Raise the sample budget in Tune's saved search-generator state by `more` (Tune has no API for it).

    The state is a pickle Tune writes; resume restores Tune's pickled state anyway (its trust boundary).
    """
    import posixpath

    from ray import cloudpickle

    names = sorted(
        info.path
        for info in fs.get_file_info(pyarrow.fs.FileSelector(path))
        if posixpath.basename(info.path).startswith("search_gen_state-")
    )
    if not names:
        raise ConfigError(
            "no saved search state to extend (was this search launched with a searcher?)", path=path
        )
    with fs.open_input_stream(names[-1]) as stream:
        state = cloudpickle.loads(stream.readall())
    state["total_samples"] += more
    state["finished"] = False
    with fs.open_output_stream(names[-1]) as stream:
        stream.write(cloudpickle.dumps(state))


def _fit(tuner, experiment: Experiment, timings: dict[str, float]) -> SearchOutcome:
    """Run the Tuner (SIGTERM or Ctrl-C stops it gracefully, `GracefulStop`) and sum up what happened."""
    start = time.perf_counter()
    with GracefulStop() as stop:
        tuner.fit()
    timings["search_s"] = time.perf_counter() - start
    return _outcome(experiment, timings, stopped=stop.requested)


def raise_if_failed(outcome: SearchOutcome) -> None:
    """SearchFailed, with each errored trial's exception, when every trial ran and none finished."""
    if outcome.failed:
        shown = [f"{trial}: {error}" for trial, error in list(outcome.errors.items())[:5]]
        more = f"; and {len(outcome.errors) - 5} more" if len(outcome.errors) > 5 else ""
        raise SearchFailed(
            f"{outcome.experiment_uri}: no trial finished ({outcome.errored} errored): "
            + "; ".join(shown)
            + more
        )


def raise_if_interrupted(outcome: SearchOutcome) -> None:
    if outcome.interrupted:
        raise SearchInterrupted(
            f"{outcome.unfinished} of {outcome.num_trials} trials did not finish"
            + (f" and {outcome.not_started} more did not start" if outcome.not_started else "")
            + "; continue with "
            f"`posetune search resume {outcome.experiment_uri}`"
        )
