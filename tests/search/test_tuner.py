"""The search's Tuner keeps a finished trial's process for the next one (`search.reuse_actors`), and a trial
run in a reused process trains exactly as one in a fresh process; a search stopped between two trials is
interrupted, not complete, and resumes to its whole budget."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import ray
from ray import tune

from search.experiment import Experiment
from search.results.tune_files import read_trials
from search.tuner import launch, resume
from tests.search.tiny import TINY, tiny_config

pytestmark = pytest.mark.slow


def _trial_rows(experiment: str) -> list[list[dict]]:
    """Each trial's reported rows, in the order the trials started."""
    where = Experiment(experiment)
    trials = [t.results for t in read_trials(where.filesystem, where.path)]
    return sorted(trials, key=lambda rows: rows[0]["timestamp"] - rows[0]["time_total_s"])


def test_two_equal_trials_one_after_the_other_train_alike_in_one_reused_process(tmp_path, shard_root):
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 1},
        # Two trials of the same point (one choice), one at a time, both trained to the end.
        search={
            "num_samples": 2,
            "max_concurrent": 1,
            "space": {"train.seed": {"type": "choice", "values": [3]}},
        },
        scheduler={"type": "none"},
        tracking={"wandb": "none"},
    )
    try:
        outcome = launch(config, name="reuse")
    finally:
        ray.shutdown()
    assert outcome.finished == 2
    first, second = _trial_rows(outcome.experiment_uri)
    assert first[0]["pid"] == second[0]["pid"]  # search.reuse_actors is on by default
    # Same seed, same data: the reused process leaks nothing (RNG, threads, caches) into the next trial.
    for key in ("train_loss", "target_val_pdj20", "source_val_pdj20", "target_val_rmse"):
        assert [r[key] for r in first] == [r[key] for r in second], key


class _SigtermAfterFirstTrial(tune.Callback):
    """SIGTERM to this driver as its first trial finishes: a cluster stopping it between two trials, before
    the searcher has proposed the next one. Once only: Tune pickles its callbacks into the state it restores."""

    def __init__(self, sent: Path):
        self.sent = sent

    def on_trial_complete(self, iteration, trials, trial, **info):
        if not self.sent.exists():
            self.sent.touch()
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_search_stopped_between_trials_is_interrupted_and_resumes_to_its_budget(tmp_path, shard_root):
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 1},
        search={**TINY["search"], "num_samples": 3, "max_concurrent": 1},
        scheduler={"type": "none"},
        tracking={"wandb": "none"},
    )
    try:
        stopped = launch(config, name="stopped", callbacks=[_SigtermAfterFirstTrial(tmp_path / "sigterm-sent")])
    finally:
        ray.shutdown()
    assert stopped.finished >= 1 and stopped.errored == 0
    assert stopped.interrupted  # trials not yet proposed are owed, not dropped
    assert stopped.unfinished + stopped.not_started == 3 - stopped.finished
    try:
        resumed = resume(stopped.experiment_uri)
    finally:
        ray.shutdown()
    assert resumed.num_trials == 3 and resumed.finished == 3 and not resumed.interrupted
