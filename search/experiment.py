"""An experiment's folder: where it lives, its manifest, and Optuna's journal beside it.

The experiment folder (`<storage.path>/<name>`, local or object storage) holds Tune's state, every trial's
checkpoints and W&B offline runs, the experiment manifest (`experiment.json`: resolved config, versions, git
SHA, command) and Optuna's journal (`optuna-journal.log`, which `optuna-dashboard` opens). For object
storage the journal is written to a local cache during the search and copied beside the experiment after.
`Experiment` is the one handle on such a folder: launch, resume, the study, inspect, export and the warm
start all reach it through one.
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


def locate(location: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and path of a stored file that is not an experiment (a warm-start checkpoint, the
    shards' root); an experiment's own location is the `Experiment` handle's."""
    return storage.resolve(location)


MANIFEST_FORMAT = "posetune-experiment"


class Experiment:
    """One experiment folder: its URI, filesystem and path (resolved once), its manifest, Optuna's journal
    beside it, and the restore of Tune's state from it. `create` and `open` refuse a name that exists or a
    folder that is missing; `Experiment(uri)` itself only resolves."""

    def __init__(self, uri: str):
        self.uri = uri
        self.filesystem, self.path = storage.resolve(uri)

    @classmethod
    def of(cls, experiment: Experiment | str) -> Experiment:
        """The handle itself, or a handle on the URI."""
        return experiment if isinstance(experiment, Experiment) else cls(experiment)

    @classmethod
    def create(cls, storage_path: str, name: str, exists: str) -> Experiment:
        """The new experiment `name` under `storage_path`; ConfigError `exists` (its `{uri}` filled in),
        naming the folder, when Tune left state there already."""
        experiment = cls(experiment_uri(storage_path, name))
        if experiment.exists():
            raise ConfigError(exists.format(uri=experiment.uri), path=experiment.uri)
        return experiment

    @classmethod
    def open(cls, uri: str, missing: str) -> Experiment:
        """The experiment at `uri`; ConfigError `missing`, naming the folder, unless Tune left state there."""
        experiment = cls(uri)
        experiment.refuse_if_missing(missing)
        return experiment

    @property
    def name(self) -> str:
        """The folder's name: the experiment's, and its Optuna study's (so experiments can share one Optuna
        storage and optuna-dashboard tells them apart)."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def exists(self) -> bool:
        """Whether Tune left restorable state here."""
        return Tuner.can_restore(self.path, storage_filesystem=self.filesystem)

    def refuse_if_missing(self, missing: str) -> None:
        if not self.exists():
            raise ConfigError(missing, path=self.uri)

    def restore_tuner(self, trainable) -> Tuner:
        """Tune's Tuner over the state stored here: finished trials stay, unfinished and errored ones
        continue from their last checkpoint. Restoring unpickles that state (Tune's trust boundary): read
        the manifest first."""
        return Tuner.restore(
            self.path,
            trainable=trainable,
            resume_unfinished=True,
            resume_errored=True,
            storage_filesystem=self.filesystem,
        )

    # ----------------------------------------------------------------------------------------- manifest

    def read_manifest(self) -> dict[str, Any]:
        """The experiment manifest written at launch; ConfigError naming it when it is missing or not ours.

        `resume` calls this before anything touches Tune's pickled state: a folder without a valid manifest
        is not restored.
        """
        fs, path = self.filesystem, self.path
        name = EXPERIMENT_MANIFEST
        if fs.get_file_info(f"{path}/{name}").type == pafs.FileType.NotFound:
            if fs.get_file_info(f"{path}/{OLD_EXPERIMENT_MANIFEST}").type == pafs.FileType.File:
                name = OLD_EXPERIMENT_MANIFEST
        where = storage.join(self.uri, name)
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

    def config(self, manifest: dict[str, Any] | None = None) -> ExperimentConfig:
        """The resolved config the experiment was launched with (from `manifest`, default the stored one)."""
        manifest = self.read_manifest() if manifest is None else manifest
        return config_from_dict(manifest["config"], path=storage.join(self.uri, EXPERIMENT_MANIFEST))

    def write_manifest(self, name: str, config: ExperimentConfig) -> None:
        """Record what is needed to reproduce and resume the experiment: config, versions, code, command.

        Credentials (URI user-info, secret-named keys, values of secret environment variables) are redacted.
        """
        manifest = {
            "format": MANIFEST_FORMAT,
            "name": name,
            "experiment_uri": self.uri,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": config.to_dict(),
            "versions": _versions(),
            "git_sha": _git_sha(),
            "command": redact_argv(sys.argv),
            "optuna_journal": self.journal_path(),
        }
        self.write_manifest_dict(manifest)

    def write_manifest_dict(self, manifest: dict[str, Any]) -> None:
        """Write (or rewrite, after `resume --more` or the warm start) the experiment manifest.

        Every record in it passes through `redact` here, whoever added it (the launch's config and command,
        the warm start's pretraining config, ...): no caller has to remember to."""
        self.filesystem.create_dir(self.path, recursive=True)
        with self.filesystem.open_output_stream(f"{self.path}/{EXPERIMENT_MANIFEST}") as stream:
            stream.write(json.dumps(redact(manifest), indent=2, default=str).encode())

    # ------------------------------------------------------------------------------------------ journal

    def journal_path(self) -> str:
        """Optuna's journal: inside a local experiment, or in a local cache for object storage."""
        if storage.is_local(self.uri):
            return os.path.join(self.path, JOURNAL)
        cache = Path(storage.cache_dir("journals"))
        cache.mkdir(parents=True, exist_ok=True)
        return str(cache / (self.uri.replace("://", "_").replace("/", "_") + ".log"))

    def journal_storage(self) -> optuna.storages.JournalStorage:
        """Optuna's storage over the experiment's journal file (for object storage, a local file that is
        copied next to the experiment after every write)."""
        journal = optuna.storages.journal
        if storage.is_local(self.uri):
            return optuna.storages.JournalStorage(journal.JournalFileBackend(self.journal_path()))
        return optuna.storages.JournalStorage(StoredJournalBackend(self.journal_path(), self.uri))

    def load_study(self) -> optuna.Study | None:
        """The experiment's Optuna study, read from the journal stored with it; None when there is no journal.

        The study named after the experiment, or the journal's only study: an experiment launched before
        studies were named (`LEGACY_STUDY_NAME`), or a folder renamed since its launch."""
        journal = self.read_journal()
        if journal is None:
            return None
        names = [study.study_name for study in journal.get_all_studies()]
        name = self.name
        if name not in names:
            if len(names) != 1:
                raise ConfigError(
                    f"the Optuna journal holds {len(names)} studies ({', '.join(names) or 'none'}), "
                    f"none named after the experiment ({name!r})",
                    path=storage.join(self.uri, JOURNAL),
                )
            name = names[0]
        return optuna.load_study(study_name=name, storage=journal)

    def sync_journal(self, local: str | None = None) -> None:
        """Copy the local Optuna journal (`local`, default `journal_path()`) into object storage next to
        the experiment; pyarrow's S3 upload appears whole when closed, so readers never see half of it."""
        if storage.is_local(self.uri):
            return
        try:
            with open(local or self.journal_path(), "rb") as source:
                data = source.read()
            with self.filesystem.open_output_stream(f"{self.path}/{JOURNAL}") as target:
                target.write(data)
        except OSError as error:
            log.warning("could not copy the Optuna journal to %s: %s", self.uri, error)

    def fetch_journal(self, local: str) -> None:
        """Put the journal stored with the experiment at `local`, where a restored searcher will open it.

        A new driver (another machine, an emptied cache) has no local journal; the pickled OptunaSearch holds
        the absolute path the first driver used, and it fails on its first `ask()` if nothing is there.
        """
        if storage.is_local(self.uri):
            return
        data = self._stored_journal()
        if data is None:
            return  # the search never wrote one: Optuna starts an empty journal
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{local}.fetch"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, local)

    def read_journal(self) -> optuna.storages.JournalStorage | None:
        """Optuna's storage over the journal stored with the experiment (read from storage, so another
        machine sees it too); None when there is none."""
        if storage.is_local(self.uri):
            local = f"{self.path}/{JOURNAL}"
            if not os.path.isfile(local):
                return None
        else:
            data = self._stored_journal()
            if data is None:
                return None
            handle, local = tempfile.mkstemp(prefix="posetune-journal-", suffix=".log")
            with os.fdopen(handle, "wb") as f:
                f.write(data)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(local))

    def _stored_journal(self) -> bytes | None:
        try:
            with self.filesystem.open_input_stream(f"{self.path}/{JOURNAL}") as stream:
                return stream.readall()
        except (FileNotFoundError, OSError):
            return None


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
        Experiment(self._uri).sync_journal(self._file_path)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._log_number_offset = {0: 0}


# The handle's work by URI, for callers that hold one (the CLI's handlers, bench/, tests).


def experiment_exists(uri: str) -> bool:
    """Whether Tune left restorable state at `uri`."""
    return Experiment(uri).exists()


def read_experiment_manifest(uri: str) -> dict[str, Any]:
    """`Experiment.read_manifest` of the experiment at `uri`."""
    return Experiment(uri).read_manifest()


def experiment_config(uri: str) -> ExperimentConfig:
    """The resolved config the experiment at `uri` was launched with."""
    return Experiment(uri).config()


def write_experiment_manifest(uri: str, name: str, config: ExperimentConfig) -> None:
    """`Experiment.write_manifest` of the experiment at `uri`."""
    Experiment(uri).write_manifest(name, config)


def write_manifest_dict(uri: str, manifest: dict[str, Any]) -> None:
    """`Experiment.write_manifest_dict` of the experiment at `uri`."""
    Experiment(uri).write_manifest_dict(manifest)


def journal_storage(uri: str) -> optuna.storages.JournalStorage:
    """`Experiment.journal_storage` of the experiment at `uri`."""
    return Experiment(uri).journal_storage()


def study_name(uri: str) -> str:
    """The Optuna study of the experiment at `uri`: named after the experiment."""
    return Experiment(uri).name


def load_study(uri: str) -> optuna.Study | None:
    """`Experiment.load_study` of the experiment at `uri`."""
    return Experiment(uri).load_study()


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
