"""An experiment's folder: where it lives, its manifest, and Optuna's journal beside it.

The experiment folder (`<storage.path>/<name>`, local or object storage) holds Tune's state, every trial's
checkpoints and W&B offline runs, the experiment manifest (`experiment.json`: resolved config, versions, git
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
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import pyarrow.fs as pafs
import ray
import torch
import wandb
from ray.tune import Tuner

from data_pipeline import storage
from search import PACKAGE_ROOT
from search.config import ExperimentConfig, config_from_dict
from search.credentials import redact, redact_argv
from search.errors import ConfigError

log = logging.getLogger(__name__)
EXPERIMENT_MANIFEST = "experiment.json"
OLD_EXPERIMENT_MANIFEST = "manifest.json"  # what posetune < 0.3 called it; still read on resume
JOURNAL = "optuna-journal.log"
LEGACY_STUDY_NAME = "posetune"  # every experiment's study before studies were named after experiments


def experiment_uri(storage_path: str, name: str) -> str:
    """The experiment folder `name` under `storage_path` (a local path made absolute, or a URI)."""
    return storage.join(storage.absolute(storage_path), name)


def experiment_exists(uri: str) -> bool:
    """Whether Tune left restorable state at `uri`."""
    fs, path = storage.resolve(uri)
    return Tuner.can_restore(path, storage_filesystem=fs)


# --------------------------------------------------------------------------------------------- manifest


MANIFEST_FORMAT = "posetune-experiment"


def read_experiment_manifest(uri: str) -> dict[str, Any]:
    """The experiment manifest written at launch; ConfigError naming it when it is missing or not ours.

    `resume` calls this before anything touches Tune's pickled state: a folder without a valid manifest
    is not restored.
    """
    fs, path = storage.resolve(uri)
    name = EXPERIMENT_MANIFEST
    if fs.get_file_info(f"{path}/{name}").type == pafs.FileType.NotFound:
        if fs.get_file_info(f"{path}/{OLD_EXPERIMENT_MANIFEST}").type == pafs.FileType.File:
            name = OLD_EXPERIMENT_MANIFEST
    where = storage.join(uri, name)
    try:
        with fs.open_input_stream(f"{path}/{name}") as stream:
            manifest = json.loads(stream.readall().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError("missing: not a posetune experiment folder", path=where) from None
    except OSError as error:
        raise ConfigError(f"cannot be read ({error})", path=where) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"not valid JSON ({type(error).__name__})", path=where) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ConfigError("not a posetune experiment manifest (no config section)", path=where)
    if manifest.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
        raise ConfigError(f"format {manifest.get('format')!r} is not {MANIFEST_FORMAT!r}", path=where)
    return manifest


def experiment_config(uri: str) -> ExperimentConfig:
    """The resolved config the experiment at `uri` was launched with."""
    manifest = read_experiment_manifest(uri)
    return config_from_dict(manifest["config"], path=storage.join(uri, EXPERIMENT_MANIFEST))


def write_experiment_manifest(uri: str, name: str, config: ExperimentConfig) -> None:
    """Record what is needed to reproduce and resume the experiment: config, versions, code, command.

    Credentials (URI user-info, secret-named keys, values of secret environment variables) are redacted.
    """
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "experiment_uri": uri,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config.to_dict(),
        "versions": _versions(),
        "git_sha": _git_sha(),
        "command": redact_argv(sys.argv),
        "optuna_journal": journal_path(uri),
    }
    write_manifest_dict(uri, manifest)


def write_manifest_dict(uri: str, manifest: dict[str, Any]) -> None:
    """Write (or rewrite, after `resume --more` or the warm start) the experiment manifest at `uri`.

    Every record in it passes through `redact` here, whoever added it (the launch's config and command,
    the warm start's pretraining config, ...): no caller has to remember to."""
    fs, path = storage.resolve(uri)
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/{EXPERIMENT_MANIFEST}") as stream:
        stream.write(json.dumps(redact(manifest), indent=2, default=str).encode())


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
    """Optuna's storage over the experiment's journal file (for object storage, a local file that is
    copied next to the experiment after every write)."""
    if storage.is_local(uri):
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal_path(uri)))
    return optuna.storages.JournalStorage(StoredJournalBackend(journal_path(uri), uri))


def study_name(uri: str) -> str:
    """The Optuna study of the experiment at `uri`: named after the experiment, so experiments can share one
    Optuna storage and optuna-dashboard tells them apart."""
    return storage.resolve(uri)[1].rstrip("/").rsplit("/", 1)[-1]


def load_study(uri: str) -> optuna.Study | None:
    """The experiment's Optuna study, read from the journal stored with it; None when there is no journal.

    The study named after the experiment, or the journal's only study: an experiment launched before
    studies were named (`LEGACY_STUDY_NAME`), or a folder renamed since its launch."""
    journal = read_journal(uri)
    if journal is None:
        return None
    names = [study.study_name for study in journal.get_all_studies()]
    name = study_name(uri)
    if name not in names:
        if len(names) != 1:
            raise ConfigError(
                f"the Optuna journal holds {len(names)} studies ({', '.join(names) or 'none'}), none named "
                f"after the experiment ({name!r})",
                path=storage.join(uri, JOURNAL),
            )
        name = names[0]
    return optuna.load_study(study_name=name, storage=journal)


class StoredJournalBackend(optuna.storages.journal.JournalFileBackend):
    """Optuna's journal file, copied to the experiment's object storage after every write (each ask and
    tell), so a driver lost at any moment leaves the journal its pickled searcher state refers to.

    Unpickled by a new driver (inside Tune's searcher state), it forgets the byte offsets of the old
    driver's file: `fetch_journal` put the stored copy there, and stale offsets would land mid-line.
    """

    def __init__(self, file_path: str, uri: str):
        super().__init__(file_path)
        self._uri = uri

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        super().append_logs(logs)
        sync_journal(self._uri, self._file_path)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._log_number_offset = {0: 0}


def sync_journal(uri: str, local: str | None = None) -> None:
    """Copy the local Optuna journal (`local`, default `journal_path(uri)`) into object storage next to
    the experiment; pyarrow's S3 upload appears whole when closed, so readers never see half of it."""
    if storage.is_local(uri):
        return
    fs, path = storage.resolve(uri)
    try:
        with open(local or journal_path(uri), "rb") as source:
            data = source.read()
        with fs.open_output_stream(f"{path}/{JOURNAL}") as target:
            target.write(data)
    except OSError as error:
        log.warning("could not copy the Optuna journal to %s: %s", uri, error)


def fetch_journal(uri: str, local: str) -> None:
    """Put the journal stored with the experiment at `local`, where a restored searcher will open it.

    A new driver (another machine, an emptied cache) has no local journal; the pickled OptunaSearch holds
    the absolute path the first driver used, and it fails on its first `ask()` if nothing is there.
    """
    if storage.is_local(uri):
        return
    fs, path = storage.resolve(uri)
    try:
        with fs.open_input_stream(f"{path}/{JOURNAL}") as stream:
            data = stream.readall()
    except (FileNotFoundError, OSError):
        return  # the search never wrote one: Optuna starts an empty journal
    Path(local).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{local}.fetch"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, local)


def read_journal(uri: str) -> optuna.storages.JournalStorage | None:
    """Optuna's storage over the journal stored with the experiment (read from storage, so another
    machine sees it too); None when there is none."""
    fs, path = storage.resolve(uri)
    if storage.is_local(uri):
        local = f"{path}/{JOURNAL}"
        if not os.path.isfile(local):
            return None
    else:
        try:
            with fs.open_input_stream(f"{path}/{JOURNAL}") as stream:
                data = stream.readall()
        except (FileNotFoundError, OSError):
            return None
        handle, local = tempfile.mkstemp(prefix="posetune-journal-", suffix=".log")
        with os.fdopen(handle, "wb") as f:
            f.write(data)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(local))
