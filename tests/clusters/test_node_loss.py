"""Ray Tune on a real multi-node Ray: trials spread over the workers and survive the loss of one.

This proves the mechanism the posetune search relies on (FailureConfig retries that restart a trial
from its last checkpoint on another node) with a tiny function trainable, so it runs in seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import pytest
import ray
from ray import tune

EPOCHS = 5
EPOCH_S = 0.6
KILL_AFTER_EPOCH = 2

# The Cluster can't travel inside a (pickled) Tune callback; the callback finds it here by key.
_CLUSTERS: dict[str, object] = {}


def epoch_trainable(config):
    """A stand-in for one hourglass trial: one checkpoint per epoch, resumes from the last one."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "state.json")) as f:
            start = json.load(f)["epoch"]
    node = ray.get_runtime_context().get_node_id()
    with open(os.path.join(config["log_dir"], "starts.jsonl"), "a") as f:
        f.write(json.dumps({"trial": tune.get_context().get_trial_id(), "node": node, "start": start}) + "\n")
    for epoch in range(start + 1, EPOCHS + 1):
        time.sleep(EPOCH_S)
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "state.json"), "w") as f:
                json.dump({"epoch": epoch}, f)
            metrics = {"epoch": epoch, "score": config["x"] * epoch, "node": node, "resumed_from": start}
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


class KillNodeOfFirstTrial(tune.Callback):
    """Removes the worker node under the first trial to reach KILL_AFTER_EPOCH (runs on the driver's main thread)."""

    def __init__(self, cluster_key: str):
        self.cluster_key = cluster_key
        self.killed: dict | None = None

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.killed is not None or result["epoch"] != KILL_AFTER_EPOCH:
            return
        cluster = _CLUSTERS[self.cluster_key]
        (victim,) = [n for n in cluster.worker_nodes if n.node_id == result["node"]]
        cluster.remove_node(victim, allow_graceful=False)
        self.killed = {"trial": trial.trial_id, "node": result["node"]}


@pytest.mark.slow
def test_trials_spread_over_workers_and_survive_a_lost_node(multinode_cluster, tmp_path):
    _CLUSTERS["this"] = multinode_cluster
    workers = {node.node_id for node in multinode_cluster.worker_nodes}
    killer = KillNodeOfFirstTrial("this")
    tuner = tune.Tuner(
        tune.with_resources(epoch_trainable, {"cpu": 1, "gpu": 1}),
        param_space={"x": tune.grid_search([1.0, 2.0]), "log_dir": str(tmp_path)},
        tune_config=tune.TuneConfig(metric="score", mode="max"),
        run_config=tune.RunConfig(
            name="node-loss",
            storage_path=str(tmp_path / "results"),
            failure_config=tune.FailureConfig(max_failures=3),
            callbacks=[killer],
            verbose=0,
        ),
    )
    try:
        results = tuner.fit()
    finally:
        _CLUSTERS.clear()

    assert killer.killed is not None, "the node was never removed"
    assert results.num_errors == 0 and len(results) == 2  # no trial lost
    starts = [json.loads(line) for line in (tmp_path / "starts.jsonl").read_text().splitlines()]
    first_nodes = {s["node"] for s in starts if s["start"] == 0}
    assert first_nodes == workers  # the two trials started on the two workers, none on the head

    for result in results:
        history = result.metrics_dataframe
        epochs = history["epoch"].tolist()
        assert epochs == list(range(1, EPOCHS + 1)), epochs  # every epoch reported once, none redone
        assert result.metrics["epoch"] == EPOCHS

    hit = [s for s in starts if s["trial"] == killer.killed["trial"]]
    assert len(hit) == 2, hit  # started once, retried once
    retry = hit[1]
    assert retry["start"] >= KILL_AFTER_EPOCH  # resumed from a checkpoint at or after the kill, not epoch 0
    assert retry["node"] != killer.killed["node"] and retry["node"] in workers  # on the surviving worker
    (victim_result,) = [
        r
        for r in results
        if r.metrics["resumed_from"] == retry["start"] and r.metrics["node"] == retry["node"]
    ]
    assert victim_result.metrics["epoch"] == EPOCHS
