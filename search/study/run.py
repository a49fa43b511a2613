"""The study's comparison, reproduced honestly: each arm × seed is a Ray Tune trial with the same budget.

Arms are sets of dotted overrides on one experiment config (classic; each lever alone: the brightness
step (the study's mean shift, or Reinhard's colour transfer), occlusion, the adversarial branch; the
study's enhanced and enhanced + adversarial; two arms that separate the adversarial arms' BatchNorm
effect from their gradient reversal; optionally the best configuration of a search). Every trial trains with `fit`, selects its epoch on target validation
(`target_val_pdj20`), and evaluates that epoch's checkpoint on the target and source *test* splits, which
nothing else looks at. The tables give each arm's mean ± std over seeds and its difference to classic with
a 95 % confidence interval, paired by seed, and a verdict (search.study.stats says why that interval).

Why the BN arms: the adversarial arms pass source and target images through the pose network as one batch,
so its BatchNorm statistics become a source/target mixture (an AdaBN-like effect) on top of the GRL.
*target-bn* keeps that mixing and drops the domain loss (the BN effect alone); *adversarial-frozen-bn*
keeps the domain loss and keeps target images out of the pose network's statistics (the GRL alone).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from ray import tune

from data_pipeline import storage
from data_pipeline.joints import LSP14, SHARED_JOINTS
from data_pipeline.loader import ShardDataset
from models import metric_names as names
from models.evaluation import evaluation_outputs, split_metrics
from models.metrics import pdj
from models.train import fit
from search.cluster import start_ray
from search.config import ExperimentConfig, config_from_dict
from search.console import progress_callbacks
from search.credentials import redact_argv
from search.errors import ConfigError, SearchFailed, SearchInterrupted
from search.experiment import Experiment, experiment_uri
from search.results.trials import inspect
from search.shards import build_train_data, check_splits, prepare_shards, shard_dir
from search.stop_signals import GracefulStop
from search.study.report import (
    BASELINE,
    EPOCH_TEST,
    EVAL_SE,
    LABEL_FREE_PICK,
    LABEL_FREE_SELECTION,
    PER_JOINT_KEY,
    PRIMARY,
    SELECTION_METRIC,
    SPLITS,
    StudyResult,
    write_outputs,
)
from search.study.stats import bootstrap_se
from search.tracking import tracking_callbacks
from search.tuner import run_config, with_trial_resources
from search.warm_start import prepare_warm_start

DEFAULT_OCCLUSION = 0.3  # the study's occlusion probability when the config has none
DEFAULT_ADV_WEIGHT = 0.1
DEFAULT_SEEDS = 5
BEST_ARM = "best-of-search"
# The arms run when --arms is not given: each lever alone against classic (5 x 5 seeds fit the study's
# 15 minutes on 2 cores). The BN controls (target-bn, adversarial-frozen-bn) and the combinations
# (enhanced, enhanced+adversarial) run when named: `--arms classic,adversarial,target-bn,...`.
DEFAULT_ARMS = (
    "classic",
    "brightness",
    "brightness-reinhard",
    "occlusion",
    "adversarial",
)
TEST_METRICS_FILE = "test_metrics.json"  # every test metric, per-joint arrays included, in the checkpoint
BEST_FILE = "best.json"  # {"epoch", "value", "label_free": {...}}: the best epochs so far by SELECTION_METRIC
# and by the label-free selection, in every checkpoint


def arm_overrides(config: ExperimentConfig, best_params: dict[str, Any] | None = None) -> dict[str, dict]:
    """The arms as dotted overrides of `config`; the study's settings where the config has them off."""
    occlusion = config.augment.occlusion_prob or DEFAULT_OCCLUSION
    adv = config.train.adv_weight or DEFAULT_ADV_WEIGHT
    raw = {"data.brightness": "none", "augment.occlusion_prob": 0.0}
    enhanced = {"data.brightness": "mean", "augment.occlusion_prob": occlusion}
    plain = {"train.adv_weight": 0.0, "train.target_bn": "shared", "train.target_in_bn": False}
    adversarial = {**plain, "train.adv_weight": adv}
    arms = {
        "classic": {**raw, **plain},
        "brightness": {**raw, **plain, "data.brightness": "mean"},  # the study's eq. 1-2: mean only
        "brightness-reinhard": {**raw, **plain, "data.brightness": "reinhard"},  # Lab statistics transfer
        "occlusion": {**raw, **plain, "augment.occlusion_prob": occlusion},
        "enhanced": {**enhanced, **plain},
        "adversarial": {**raw, **adversarial},
        "enhanced+adversarial": {**enhanced, **adversarial},
        "target-bn": {**raw, **plain, "train.target_in_bn": True},
        "adversarial-frozen-bn": {**raw, **adversarial, "train.target_bn": "frozen"},
    }
    if best_params is not None:
        arms[BEST_ARM] = dict(best_params)
    return arms


def select_arms(arms: dict[str, dict], only: list[str] | None) -> dict[str, dict]:
    """The arms to run: `only` (in its order) or DEFAULT_ARMS (+ the search's best), classic always first."""
    wanted = list(only) if only else [a for a in arms if a in DEFAULT_ARMS or a == BEST_ARM]
    unknown = [a for a in wanted if a not in arms]
    if unknown:
        raise ConfigError(f"unknown arm(s) {unknown}; the arms are {list(arms)}", key="arms")
    wanted = [BASELINE] + [a for a in dict.fromkeys(wanted) if a != BASELINE]
    return {a: arms[a] for a in wanted}


def best_search_params(experiment_uri: str) -> dict[str, Any]:
    """The searched values of an experiment's best trial (by its own metric), via search.results.trials."""
    result = inspect(experiment_uri, plots=False)
    if result.best is None:
        raise ConfigError(
            "this experiment has no finished trial to take the best configuration from", path=experiment_uri
        )
    return dict(result.best.params)


# --------------------------------------------------------------------------------------------- trial


def _flatten_test(metrics: dict, prefix: str) -> dict[str, float]:
    """Scalars for Tune's result (per-joint PDJ@0.2 as one scalar per joint; other arrays dropped)."""
    out = {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
    for name, value in zip(LSP14, metrics[prefix + names.per_joint(names.PDJ20)], strict=True):
        out[f"{prefix}{PER_JOINT_KEY}{name}"] = float(value)
    return out


def evaluate_on_test(
    checkpoint_dir: str, config: ExperimentConfig, brightness: bool | str, domains=tuple(SPLITS)
) -> dict:
    """Metrics of a checkpoint on the target and source test splits (or those of `domains`; no
    augmentation, every sample), plus the bootstrap standard error of PDJ@0.2 over each split's images
    (`<prefix>pdj20_eval_se`)."""
    root = shard_dir(config, brightness)
    train_config = replace(config.train_config(), max_eval_samples=None)
    out = {}
    for domain in domains:
        prefix = SPLITS[domain]
        dataset = ShardDataset(root, domain, "test", config.model.input_size, None, seed=config.train.seed)
        outputs, used = evaluation_outputs(checkpoint_dir, dataset, train_config)
        out.update(split_metrics(outputs, used, prefix))
        out[prefix + PRIMARY + EVAL_SE] = eval_sampling_se(outputs, np.random.default_rng(config.train.seed))
    return out


def eval_sampling_se(outputs: dict, rng: np.random.Generator, fraction: float = 0.2) -> float:
    """How much PDJ@`fraction` (shared joints) of one model would move on another test set of the same size:
    its bootstrap standard error over the evaluated images (`evaluation_outputs`)."""
    shared = list(SHARED_JOINTS)

    def score(idx: np.ndarray) -> float:
        per_joint = pdj(outputs["pred"][idx], outputs["gt"][idx], outputs["labelled"][idx], fraction)[shared]
        return float(np.nanmean(per_joint)) if np.isfinite(per_joint).any() else math.nan

    return bootstrap_se(score, len(outputs["pred"]), rng)


def run_study_trial(
    params: dict[str, Any],
    experiment: dict[str, Any],
    arms: dict[str, dict],
    label_free: str = LABEL_FREE_SELECTION,
) -> None:
    """One arm × seed: fit, keep the epoch best on target validation, report its test metrics at the end;
    likewise the epoch best by the label-free score `label_free` (its target-test metrics under
    LABEL_FREE_PICK), so the two selection protocols compare on the same runs.

    Each report carries one copy of the weights (that epoch's). The best epoch is found from the reported
    metrics; its number and value ride in every checkpoint's `best.json` (a few bytes), so a retried trial
    knows it. Its weights are the local checkpoint kept for it, or, after a retry on a fresh node, the copy
    Tune keeps in storage (the study's CheckpointConfig keeps the best by the selection metric and the latest).
    """
    overrides = {**arms[params["arm"]], "train.seed": int(params["train.seed"])}
    config = config_from_dict(experiment).with_params(overrides)
    brightness = config.data.brightness
    data = build_train_data(config, brightness)
    workdir = Path(tempfile.mkdtemp(prefix="posetune-study-"))
    best = {"value": -math.inf, "epoch": 0}
    sign = 1.0 if names.mode(label_free) == "max" else -1.0  # the label-free best: highest sign x value
    best_free = {"value": -math.inf, "epoch": 0}
    local: dict[int, str] = {}  # epoch -> checkpoint dir on this node
    resume_from = _restore(workdir, best, best_free, local)

    def report(metrics: dict[str, float], checkpoint_dir: str) -> None:
        epoch, value = int(metrics["epoch"]), metrics[SELECTION_METRIC]
        if value >= best["value"]:  # of equals the later, as Tune's checkpoint-by-score keeps it
            best.update(value=value, epoch=epoch)
        if sign * metrics[label_free] >= best_free["value"]:
            best_free.update(value=sign * metrics[label_free], epoch=epoch)
        (Path(checkpoint_dir) / BEST_FILE).write_text(json.dumps({**best, "label_free": best_free}))
        local[epoch] = checkpoint_dir
        result = {**metrics, "best_epoch": float(best["epoch"]), f"best_{SELECTION_METRIC}": best["value"]}
        result.update(_epoch_test(checkpoint_dir, config, brightness))
        if epoch == config.train.epochs:
            result.update(_final_test(checkpoint_dir, best, best_free, local, workdir, config, brightness))
        tune.report(result, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))
        for old in [e for e in local if e not in (epoch, best["epoch"], best_free["epoch"])]:  # persisted
            shutil.rmtree(local.pop(old), ignore_errors=True)

    try:
        fit(
            config.train_config(),
            data,
            report,
            workdir=str(workdir / "run"),
            resume_from=resume_from,
            keep_checkpoints=None,  # report() keeps the best epoch's and the latest
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _restore(workdir: Path, best: dict, best_free: dict, local: dict[int, str]) -> str | None:
    """A retried trial's checkpoint, unpacked into `workdir`: its best epochs so far (from `best.json`) go
    into `best` and `best_free`, its folder into `local`; returned to resume from (None on a first run)."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    restored = Path(checkpoint.to_directory(str(workdir / "restored")))
    saved = json.loads((restored / BEST_FILE).read_text())
    best_free.update(saved.pop("label_free", {}))
    best.update(saved)
    local[_epoch_of(restored)] = str(restored)
    return str(restored)


def _final_test(checkpoint_dir, best, best_free, local, workdir: Path, config, brightness) -> dict:
    """The last epoch's report: the labelled pick's test metrics (all of them, per-joint arrays included,
    written into this checkpoint as TEST_METRICS_FILE; scalars in the result) and the label-free pick's."""
    best_dir = local.get(best["epoch"]) or _stored_checkpoint(best["epoch"], workdir / "best")
    test = evaluate_on_test(str(best_dir), config, brightness)
    (Path(checkpoint_dir) / TEST_METRICS_FILE).write_text(
        json.dumps({k: np.asarray(v).tolist() for k, v in test.items()}, indent=1)
    )
    result = {}
    for prefix in SPLITS.values():
        result.update(_flatten_test({k: v for k, v in test.items() if k.startswith(prefix)}, prefix))
    result.update(_label_free_pick(best_free["epoch"], best["epoch"], test, local, config, brightness))
    result[LABEL_FREE_PICK + "epoch"] = float(best_free["epoch"])
    return result


def _epoch_test(checkpoint_dir: str, config: ExperimentConfig, brightness) -> dict[str, float]:
    """This epoch's checkpoint on target test, under EPOCH_TEST: recorded to score the selection metrics,
    never read by a selection."""
    test = evaluate_on_test(checkpoint_dir, config, brightness, domains=("target",))
    return {EPOCH_TEST + k: float(v) for k, v in test.items() if np.ndim(v) == 0}


def checkpoint_rows(result, arm: str, seed: int) -> list[dict[str, Any]]:
    """Every epoch a study trial reported: its validation metrics (labelled and label-free) and, as
    `test_target_*`, that epoch's own target-test scores (EPOCH_TEST in the report)."""
    frame = result.metrics_dataframe
    if frame is None or "epoch" not in frame:
        return []
    kept = [c for c in frame.columns if c in names.MODES]
    rows = []
    for _, row in frame.drop_duplicates("epoch", keep="last").sort_values("epoch").iterrows():
        tests = {c[len(EPOCH_TEST) :]: float(row[c]) for c in frame.columns if c.startswith(EPOCH_TEST)}
        rows.append(
            {
                "arm": arm,
                "seed": seed,
                "epoch": int(row["epoch"]),
                **{c: float(row[c]) for c in kept},
                **tests,
            }
        )
    return rows


def _label_free_pick(epoch, labelled_epoch, test, local, config, brightness) -> dict[str, float]:
    """Target-test scalars of the label-free pick's checkpoint, under LABEL_FREE_PICK: the labelled pick's
    when both chose the same epoch; nan when a retry on another node lost that checkpoint (Tune's storage
    keeps the best by the labelled metric and the latest only)."""
    prefix = SPLITS["target"]
    if epoch == labelled_epoch:
        picked = {k: v for k, v in test.items() if k.startswith(prefix)}
    elif epoch in local:
        picked = evaluate_on_test(str(local[epoch]), config, brightness, domains=("target",))
    else:
        try:
            folder = _stored_checkpoint(epoch, Path(tempfile.mkdtemp(prefix="posetune-lf-")))
        except FileNotFoundError:
            return {LABEL_FREE_PICK + prefix + PRIMARY: math.nan}
        try:
            picked = evaluate_on_test(str(folder), config, brightness, domains=("target",))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return {LABEL_FREE_PICK + k: float(v) for k, v in picked.items() if np.ndim(v) == 0}


def _epoch_of(checkpoint_dir: str | Path) -> int:
    """The epoch a checkpoint written by `fit` ends (from its metrics.json)."""
    return int(json.loads((Path(checkpoint_dir) / "metrics.json").read_text())["epoch"])


def _stored_checkpoint(epoch: int, into: Path) -> Path:
    """This trial's checkpoint of `epoch`, copied from experiment storage into `into` (a retried trial whose
    best epoch was checkpointed on another node)."""
    import pyarrow.fs as pafs

    storage = tune.get_context().get_storage()
    fs, trial_path = storage.storage_filesystem, storage.trial_fs_path
    for info in fs.get_file_info(pafs.FileSelector(trial_path)):
        if info.type != pafs.FileType.Directory or not info.base_name.startswith("checkpoint_"):
            continue
        with fs.open_input_stream(f"{info.path}/metrics.json") as stream:
            if int(json.loads(stream.readall())["epoch"]) == epoch:
                into.mkdir(parents=True, exist_ok=True)
                pafs.copy_files(
                    info.path, str(into), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem()
                )
                return into
    raise FileNotFoundError(
        f"{trial_path}: no kept checkpoint of epoch {epoch} (the study's best by {SELECTION_METRIC})"
    )


# --------------------------------------------------------------------------------------------- driver


def build_study_tuner(
    config: ExperimentConfig,
    uri: Experiment | str,
    arms: dict[str, dict],
    seeds: list[int],
    label_free: str = LABEL_FREE_SELECTION,
):
    """A Tuner over the grid arm × seed: no searcher, no early stopping, the config's resources."""
    experiment = config.to_dict()
    trainable = with_trial_resources(
        run_study_trial, config, experiment=experiment, arms=arms, label_free=label_free
    )
    return tune.Tuner(
        trainable,
        param_space={"arm": tune.grid_search(list(arms)), "train.seed": tune.grid_search(list(seeds))},
        tune_config=tune.TuneConfig(
            num_samples=1,
            max_concurrent_trials=config.search.max_concurrent,
            reuse_actors=config.search.reuse_actors,
        ),
        run_config=run_config(
            config,
            uri,
            callbacks=[
                *tracking_callbacks(experiment, config.tracking),
                *progress_callbacks(
                    config.tracking.console, ["arm", "train.seed"], config.train.epochs, SELECTION_METRIC
                ),
            ],
            # The two best checkpoints by the selection metric and the latest (Ray always keeps the latest).
            # Ray forces an experiment snapshot whenever a trial has checkpointed num_to_keep times since
            # the last one (ray/tune/execution/experiment_state.py): 2 halves the snapshots of keeping 1.
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=SELECTION_METRIC, checkpoint_score_order="max"
            ),
        ),
    )


def run_study(
    config: ExperimentConfig,
    *,
    seeds: int = DEFAULT_SEEDS,
    experiment: str | None = None,
    out: str | None = None,
    address: str | None = None,
    name: str | None = None,
    only: list[str] | None = None,
    resume: bool = False,
    label_free: str = LABEL_FREE_SELECTION,
) -> StudyResult:
    """Prepare both shard sets, run every arm × seed as Tune trials, and write the tables and plots.

    `only` picks the arms (by name, in the order given; default DEFAULT_ARMS, plus the search's best with
    `experiment`); classic, the baseline of every comparison, is always run. `resume` continues the study
    `name` (same arms and seeds): finished trials stay, unfinished and errored ones run again. When some
    trials fail, the tables are written from those that finished and SearchFailed says which failed.
    `label_free` is the label-free score (models.metric_names.LABEL_FREE_METRICS) of the second selection
    protocol: each trial also reports the target-test score of the epoch it picks."""
    _check_study_options(config, seeds, label_free, resume, name)
    name = name or f"{config.name}-study-{time.strftime('%Y%m%d-%H%M%S')}"
    study_experiment = _study_experiment(config, name, resume)
    if resume:  # the options the study started with, whatever this command line says: no mixed tables
        config = study_experiment.config()
    arms = select_arms(arm_overrides(config, best_search_params(experiment) if experiment else None), only)
    out = out or (study_experiment.path if storage.is_local(study_experiment.uri) else name)
    start, load_before = time.perf_counter(), os.getloadavg()
    start_ray(config, address)
    variants = sorted({config.with_params(a).data.brightness for a in arms.values()})
    for brightness in variants:
        prepare_shards(config.with_params({"data.brightness": brightness}))
        check_splits(config.with_params({"data.brightness": brightness}), test=True)
    tuner = _study_tuner(study_experiment, name, config, arms, seeds, label_free, resume=resume)
    with GracefulStop() as stop:  # SIGTERM or Ctrl-C: the trials so far are kept, --resume runs the rest
        results = tuner.fit()
    runs, failed, checkpoints = gather_runs(results, arms, seeds)
    notes = {  # how it ran: a wall time means little without the machine's load
        "command": redact_argv(sys.argv),
        "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()},
        "cpus": os.cpu_count(),
        "label_free_selection": label_free,
    }
    wall_s = time.perf_counter() - start
    study = StudyResult(
        study_experiment.uri, out, arms, list(range(seeds)), runs, checkpoints, wall_s=wall_s, notes=notes
    )
    return _write_study(study, failed, name, interrupted=stop.requested)


def _study_tuner(experiment: Experiment, name: str, config, arms, seeds: int, label_free: str, *, resume):
    """The study's Tuner: restored from the experiment with `resume`, else a new grid whose manifest is
    written here. Either way the trials run the warm-start config (`prepare_warm_start`)."""
    if resume:
        trials = prepare_warm_start(config, experiment)  # the recorded checkpoint; never trained again
        return experiment.restore_tuner(
            with_trial_resources(
                run_study_trial, trials, experiment=trials.to_dict(), arms=arms, label_free=label_free
            )
        )
    experiment.write_manifest(name, config)  # the resolved config: what bench/shift_factors.py reads
    # Every arm x seed adapts from one source-only model when the config asks (pretrained once, here).
    trials = prepare_warm_start(config, experiment)
    return build_study_tuner(trials, experiment, arms, list(range(seeds)), label_free)


def _check_study_options(config: ExperimentConfig, seeds: int, label_free: str, resume: bool, name) -> None:
    """Refuse, before anything runs, options no study can run with."""
    if seeds < 1:
        raise ConfigError("--seeds must be at least 1", key="seeds")
    if label_free not in names.LABEL_FREE_METRICS:
        raise ConfigError(
            f"{label_free!r} is not a label-free score; one of {', '.join(names.LABEL_FREE_METRICS)}",
            key="label-free-metric",
        )
    if config.data.target_labels == "none":
        raise ConfigError(
            "is none, but the study selects epochs on labelled target validation and reports target-test "
            "scores: it needs target labels",
            key="data.target_labels",
        )
    if resume and not name:
        raise ConfigError("--resume needs the --name of the study to continue", key="name")


def _study_experiment(config: ExperimentConfig, name: str, resume: bool) -> Experiment:
    """The study's experiment `name`: the one to continue with `resume`, else a new one."""
    if resume:
        return Experiment.open(experiment_uri(config.storage.path, name), missing="no study to resume here")
    return Experiment.create(
        config.storage.path,
        name,
        exists="a study of this name exists; continue it with --resume or choose another --name",
    )


def gather_runs(results, arms, seeds: int) -> tuple[list[dict], list[str], list[dict]]:
    """From the study's ResultGrid: each finished trial's test metrics (a run), each unfinished or never
    started arm × seed (`arm/seed N: why`), and every epoch's checkpoint row (`checkpoint_rows`)."""
    runs, failed, checkpoints, seen = [], [], [], set()
    for result in results:
        arm, seed = result.config["arm"], int(result.config["train.seed"])
        seen.add((arm, seed))
        checkpoints += checkpoint_rows(result, arm, seed)
        metrics = result.metrics or {}
        if result.error is not None or SPLITS["target"] + names.PDJ20 not in metrics:
            failed.append(f"{arm}/seed {seed}: {result.error or 'no test metrics'}")
            continue
        keep = {
            k: float(v)
            for k, v in metrics.items()
            if k.startswith(("test_", LABEL_FREE_PICK)) or k == "best_epoch"
        }
        runs.append({"arm": arm, "seed": seed, **keep})
    failed += [
        f"{arm}/seed {seed}: not started" for arm in arms for seed in range(seeds) if (arm, seed) not in seen
    ]
    return runs, failed, checkpoints


def _write_study(
    study: StudyResult, failed: list[str], name: str, *, interrupted: bool = False
) -> StudyResult:
    """Write the tables of the trials that finished, even when others did not; SearchFailed naming those
    (SearchInterrupted where a stop signal ended the study)."""
    if study.runs:
        study.files = write_outputs(study)
    if failed:
        runs, uri = study.runs, study.experiment_uri
        written = f"tables of the {len(runs)} that finished in {study.out}; " if runs else ""
        raise (SearchInterrupted if interrupted else SearchFailed)(
            f"{uri}: {len(failed)} of {len(failed) + len(runs)} study trials did not finish ("
            + "; ".join(failed[:5])
            + f"); {written}run them again with `posetune study --resume --name {name}` and the same options"
        )
    return study
