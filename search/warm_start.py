"""Warm start: one checkpoint every trial of a search (or a study) starts from.

Domain adaptation usually pretrains on the labelled source and then adapts; here the adaptation is each
trial. The checkpoint is either given (`warm_start.checkpoint`: a file anywhere storage can read) or trained
once, as the search's first stage, by a source-only run of the config (`warm_start.pretrain_epochs`) in a
Ray task, and written into the experiment's own storage (`<experiment>/warm_start/state.pt`, local or
object storage), so trials on any node read it. Either way it is checked (readable, the trials' network)
before any trial starts, and recorded in the experiment manifest under `warm_start`; a resumed search
finds the record and reuses the checkpoint instead of training it again.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from typing import Any

import ray
import torch

from data_pipeline import storage
from models.checkpoints import CHECKPOINT_FILE, read_warm_start
from models.train import fit
from search.cluster import check_resources_satisfiable
from search.config import ExperimentConfig, config_from_dict
from search.console import epoch_line
from search.errors import ConfigError
from search.experiment import EXPERIMENT_MANIFEST, Experiment, locate
from search.shards import build_train_data

log = logging.getLogger(__name__)
WARM_START_DIR = "warm_start"  # inside the experiment folder: the pretrained checkpoint and its metrics


def warm_start_uri(uri: str, name: str = CHECKPOINT_FILE) -> str:
    """Where a search's pretrained checkpoint (or, by `name`, its metrics) lives: `<experiment>/warm_start/`."""
    return storage.join(uri, WARM_START_DIR, name)


def check_checkpoint(location: str, config: ExperimentConfig, key: str) -> None:
    """ConfigError naming the file (and `key`) unless `location` is a readable checkpoint of the config's
    network."""
    try:
        read_warm_start(location, config.model)
    except ValueError as error:
        raise ConfigError(str(error).removeprefix(f"{location}: "), path=location, key=key) from None


def check_warm_start(config: ExperimentConfig) -> None:
    """Refuse, before Ray starts, a given warm-start checkpoint (`warm_start.checkpoint` or
    `train.init_from`) that is missing, unreadable or made for another network."""
    if config.warm_start.checkpoint is not None:
        check_checkpoint(storage.absolute(config.warm_start.checkpoint), config, "warm_start.checkpoint")
    elif config.train.init_from is not None and not config.warm_start.enabled:
        check_checkpoint(config.train.init_from, config, "train.init_from")


def prepare_warm_start(
    config: ExperimentConfig, experiment: Experiment | str, *, progress: bool = True
) -> ExperimentConfig:
    """The config the trials run: with `train.init_from` set to the warm-start checkpoint (the config
    itself when it asks for none). Checks the checkpoint before any trial starts, pretrains it first when
    the config asks (once: a checkpoint recorded in the experiment's manifest is reused), and records it
    there. `experiment` is the handle or its URI. Needs Ray started when it pretrains. Call after the
    experiment manifest is written."""
    experiment = Experiment.of(experiment)
    uri = experiment.uri
    manifest = experiment.read_manifest()
    recorded = manifest.get("warm_start")
    if recorded:  # a resumed search, or a relaunch after the pretraining: reuse, never retrain
        check_checkpoint(recorded["checkpoint"], config, f"{EXPERIMENT_MANIFEST}: warm_start.checkpoint")
        return config.with_params({"train.init_from": recorded["checkpoint"]})
    check_warm_start(config)
    if not config.warm_start.enabled:
        return config
    started = time.perf_counter()
    if config.warm_start.checkpoint is not None:
        checkpoint = storage.absolute(config.warm_start.checkpoint)
        record: dict[str, Any] = {"checkpoint": checkpoint, "made_by": "given"}
    else:
        checkpoint = warm_start_uri(uri)
        metrics = pretrain(config, checkpoint, warm_start_uri(uri, "metrics.json"), progress=progress)
        check_checkpoint(checkpoint, config, "warm_start")
        record = {
            "checkpoint": checkpoint,
            "made_by": "pretrain",
            "config": config.pretrain_config().to_dict(),
            "metrics": metrics,
            "seconds": round(time.perf_counter() - started, 1),
        }
    manifest = experiment.read_manifest()
    manifest["warm_start"] = record  # redacted, as every record of the manifest, when written
    manifest["config"]["train"]["init_from"] = record["checkpoint"]
    experiment.write_manifest_dict(manifest)
    log.info("warm start recorded in %s", storage.join(uri, EXPERIMENT_MANIFEST))
    return config.with_params({"train.init_from": checkpoint})


def pretrain(
    config: ExperimentConfig, checkpoint: str, metrics_file: str, *, progress: bool = True
) -> dict[str, float]:
    """Train `config.pretrain_config()` in one Ray task (its CPUs: `warm_start.cpu`, else the trials')
    and write its last checkpoint to `checkpoint` and that epoch's metrics, also returned, to
    `metrics_file` (paths or URIs). The task
    streams each epoch's metrics back (a Ray generator), so the driver shows progress."""
    cpus = config.warm_start.cpu or config.resources.cpu
    check_resources_satisfiable(  # a task no node can hold would wait forever
        {"CPU": cpus, "GPU": config.resources.gpu}, what="the warm start's pretraining run", key="warm_start.cpu"
    )
    pre = config.pretrain_config()
    if progress:
        print(
            f"warm start: pretraining a source-only model, {pre.train.epochs} epochs of "
            f"{pre.train.steps_per_epoch or 'one pass of'} steps x {pre.train.batch_size} images, "
            f"on {cpus:g} CPU(s)",
            flush=True,
        )
    task = ray.remote(_pretrain_task).options(num_cpus=cpus, num_gpus=config.resources.gpu)
    metrics: dict[str, float] = {}
    for ref in task.remote(pre.to_dict(), checkpoint, metrics_file, int(max(1, cpus))):
        metrics = ray.get(ref)
        if progress:
            print(epoch_line("pretrain", metrics, pre.train.epochs), flush=True)
    return metrics


def _pretrain_task(experiment: dict, checkpoint: str, metrics_file: str, threads: int):
    """Runs on a Ray worker: `fit` the pretraining config (in a thread, yielding each epoch's metrics),
    then copy its last checkpoint to storage."""
    torch.set_num_threads(threads)
    config = config_from_dict(experiment)
    data = build_train_data(config)
    workdir = tempfile.mkdtemp(prefix="posetune-pretrain-")
    epochs: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            fit(
                config.train_config(),
                data,
                lambda m, d: epochs.put((m, d)),
                workdir=workdir,
                keep_checkpoints=1,
            )
        except BaseException as error:  # re-raised in the task, so Ray reports it
            outcome["error"] = error
        finally:
            epochs.put(None)

    try:
        thread = threading.Thread(target=run, name="pretrain", daemon=True)
        thread.start()
        last = None
        while (item := epochs.get()) is not None:
            last = item
            yield item[0]
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        _upload(os.path.join(last[1], CHECKPOINT_FILE), checkpoint)
        _write_text(metrics_file, json.dumps(last[0], indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _upload(local: str, location: str) -> None:
    """Copy a local file to a path or URI; object storage shows it whole when closed, a local file is
    written beside and renamed, so a reader never sees half of it."""
    fs, path = locate(location)
    fs.create_dir(path.rpartition("/")[0], recursive=True)
    target = f"{path}.tmp" if storage.is_local(location) else path
    with open(local, "rb") as source, fs.open_output_stream(target) as out:
        shutil.copyfileobj(source, out)
    if target != path:
        os.replace(target, path)


def _write_text(location: str, text: str) -> None:
    fs, path = locate(location)
    with fs.open_output_stream(path) as out:
        out.write(text.encode())
