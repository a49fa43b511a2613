"""The search's Tuner keeps a finished trial's process for the next one (`search.reuse_actors`), and a trial
run in a reused process trains exactly as one in a fresh process."""

from __future__ import annotations

import pytest
import ray

from search.experiment import Experiment
from search.results.tune_files import read_trials
from search.tuner import launch
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
