"""Tune's results read back as plain data: trials, every reported result, kept checkpoints. Nothing unpickled.

Tune's own readers (ExperimentAnalysis, ResultGrid, Tuner.get_results) decode `experiment_state-*.json`
with cloudpickle allowed, so a crafted experiment folder runs code in whoever inspects it. This module reads
the same files with `json.loads` only: the newest experiment snapshot for each trial's id, status, searched
values and folder, and each trial's `result.json` (one JSON line per report) for its metrics. Pickled
fields in those files stay opaque strings; `.pkl` files are never opened.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs

STATE_PREFIX = "experiment_state-"
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"


class NoTuneResults(FileNotFoundError):
    """The folder holds no Tune experiment snapshot (never launched, or not an experiment)."""


@dataclass
class TrialRecord:
    """One trial as its files describe it."""

    trial_id: str
    status: str  # PENDING, RUNNING, PAUSED, TERMINATED or ERROR (as of the newest snapshot)
    config: dict[str, Any]  # the searched values this trial ran with
    path: str  # the trial's folder on the experiment's filesystem
    num_failures: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)  # every report, oldest first

    def last(self, key: str, default: Any = None) -> Any:
        return self.results[-1].get(key, default) if self.results else default


def _read_text(fs: pyarrow.fs.FileSystem, path: str) -> str | None:
    try:
        with fs.open_input_stream(path) as stream:
            return stream.readall().decode("utf-8", errors="replace")
    except (FileNotFoundError, OSError):
        return None


def _children(fs: pyarrow.fs.FileSystem, path: str) -> list[pyarrow.fs.FileInfo]:
    return fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))


def newest_state(fs: pyarrow.fs.FileSystem, path: str) -> dict[str, Any]:
    """The newest `experiment_state-<time>.json` of the experiment at `path`, decoded as plain JSON."""
    names = sorted(
        info.path
        for info in _children(fs, path)
        if info.type == pyarrow.fs.FileType.File
        and posixpath.basename(info.path).startswith(STATE_PREFIX)
        and info.path.endswith(".json")
    )
    for name in reversed(names):  # a snapshot caught mid-write is skipped for the one before
        text = _read_text(fs, name)
        try:
            state = json.loads(text) if text else None
        except json.JSONDecodeError:
            continue
        if isinstance(state, dict) and isinstance(state.get("trial_data"), list):
            return state
    raise NoTuneResults(f"{path}: no readable Tune experiment snapshot ({STATE_PREFIX}*.json)")


def _results(fs: pyarrow.fs.FileSystem, trial_path: str) -> list[dict[str, Any]]:
    rows = []
    for line in (_read_text(fs, f"{trial_path}/{RESULT_FILE}") or "").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_trials(fs: pyarrow.fs.FileSystem, path: str) -> list[TrialRecord]:
    """Every trial of the experiment at `path` on `fs`, in Tune's order, with its reported results."""
    trials = []
    for entry in newest_state(fs, path)["trial_data"]:
        try:
            trial = json.loads(entry[0])
            runtime = json.loads(entry[1])
            trial_id = str(trial["trial_id"])
        except (TypeError, IndexError, KeyError, json.JSONDecodeError):
            continue
        logdir = trial.get("relative_logdir")
        trial_path = f"{path}/{logdir}" if isinstance(logdir, str) and "/" not in logdir and logdir else ""
        config = trial.get("config")
        trials.append(
            TrialRecord(
                trial_id=trial_id,
                status=str(trial.get("status", "UNKNOWN")),
                config=dict(config) if isinstance(config, dict) else {},
                path=trial_path,
                num_failures=int(runtime.get("num_failures", 0) or 0) if isinstance(runtime, dict) else 0,
                results=_results(fs, trial_path) if trial_path else [],
            )
        )
    return trials


def kept_checkpoints(fs: pyarrow.fs.FileSystem, trial: TrialRecord) -> list[tuple[str, dict[str, Any]]]:
    """(checkpoint folder, the result reported with it) for each checkpoint still on storage."""
    if not trial.path:
        return []
    present = {
        posixpath.basename(info.path)
        for info in _children(fs, trial.path)
        if info.type == pyarrow.fs.FileType.Directory
    }
    return [
        (f"{trial.path}/{row['checkpoint_dir_name']}", row)
        for row in trial.results
        if row.get("checkpoint_dir_name") in present
    ]


def error_summary(fs: pyarrow.fs.FileSystem, trial: TrialRecord, lines: int = 1) -> str:
    """The last line(s) of an errored trial's `error.txt` (the exception), or '' when there is none."""
    text = _read_text(fs, f"{trial.path}/{ERROR_FILE}") if trial.path else None
    if not text:
        return ""
    tail = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(tail[-lines:])
