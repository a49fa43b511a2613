"""An experiment's folder: where it lives, its manifest, and Optuna's journal beside it.

The experiment folder (`<storage.path>/<name>`, local or object storage) holds Tune's state, every trial's
checkpoints and W&B offline runs, the experiment manifest (`manifest.json`: resolved config, versions, git
SHA, command) and Optuna's journal (`optuna-journal.log`, which `optuna-dashboard` opens). For object
storage the journal is written to a local cache during the search and copied beside the experiment after.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import ray
import torch
import wandb
from ray.tune import Tuner

from data_pipeline import storage
from search import PACKAGE_ROOT
from search.config import ExperimentConfig, config_from_dict
from search.errors import ConfigError

log = logging.getLogger(__name__)
EXPERIMENT_MANIFEST = "manifest.json"
JOURNAL = "optuna-journal.log"
STUDY_NAME = "posetune"  # the Optuna study inside the journal


def experiment_uri(storage_path: str, name: str) -> str:
    """The experiment folder `name` under `storage_path` (a local path made absolute, or a URI)."""
    return storage.join(storage.absolute(storage_path), name)


def experiment_exists(uri: str) -> bool:
    """Whether Tune left restorable state at `uri`."""
    fs, path = storage.resolve(uri)
    return Tuner.can_restore(path, storage_filesystem=fs)


# --------------------------------------------------------------------------------------------- manifest


def read_experiment_manifest(uri: str) -> dict[str, Any]:
    """The experiment manifest written at launch; its absence means `uri` is no posetune experiment."""
    fs, path = storage.resolve(uri)
    try:
        with fs.open_input_stream(f"{path}/{EXPERIMENT_MANIFEST}") as stream:
            return json.loads(stream.readall())
    except (FileNotFoundError, OSError) as error:
        raise ConfigError(
            f"not a posetune experiment (no {EXPERIMENT_MANIFEST}): {error}", path=uri
        ) from error


def experiment_config(uri: str) -> ExperimentConfig:
    """The resolved config the experiment at `uri` was launched with."""
    manifest = read_experiment_manifest(uri)
    return config_from_dict(manifest["config"], path=f"{uri}/{EXPERIMENT_MANIFEST}")


def write_experiment_manifest(uri: str, name: str, config: ExperimentConfig) -> None:
    """Record what is needed to reproduce and resume the experiment: config, versions, code, command."""
    manifest = {
        "name": name,
        "experiment_uri": uri,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config.to_dict(),
        "versions": _versions(),
        "git_sha": _git_sha(),
        "command": sys.argv,
        "optuna_journal": journal_path(uri),
    }
    fs, path = storage.resolve(uri)
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/{EXPERIMENT_MANIFEST}") as stream:
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
    return {
        "python": platform.python_version(),
        "ray": ray.__version__,
        "optuna": optuna.__version__,
        "torch": torch.__version__,
        "wandb": wandb.__version__,
    }


# --------------------------------------------------------------------------------------------- journal


def journal_path(uri: str) -> str:
    """Optuna's journal: inside a local experiment, or in a local cache for object storage."""
    if storage.is_local(uri):
        return os.path.join(storage.resolve(uri)[1], JOURNAL)
    cache = Path(storage.cache_dir("journals"))
    cache.mkdir(parents=True, exist_ok=True)
    return str(cache / (uri.replace("://", "_").replace("/", "_") + ".log"))


def journal_storage(uri: str) -> optuna.storages.JournalStorage:
    """Optuna's storage over the experiment's journal file."""
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal_path(uri)))


def sync_journal(uri: str) -> None:
    """Copy the local Optuna journal into object storage next to the experiment."""
    if storage.is_local(uri):
        return
    fs, path = storage.resolve(uri)
    try:
        with open(journal_path(uri), "rb") as source, fs.open_output_stream(f"{path}/{JOURNAL}") as target:
            target.write(source.read())
    except OSError as error:
        log.warning("could not copy the Optuna journal to %s: %s", uri, error)
