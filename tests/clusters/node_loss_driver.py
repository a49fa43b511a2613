"""The node-loss experiment, run as its own process: `python -m tests.clusters.node_loss_driver TEMP_DIR OUT`.

It starts a loopback cluster (two workers), runs two Tune trials of a tiny epoch trainable with
FailureConfig retries, removes the worker under the first trial to reach KILL_AFTER_EPOCH, and writes
what happened to OUT/summary.json for tests/clusters/test_node_loss.py to judge. A process of its own:
a Tune run earlier in the same Python process (any in-process search test) left Tune unable to start
trials on a second cluster, which is not what this test is about.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import ray
from ray import tune

from tests.clusters.cluster_procs import start_multinode_cluster

EPOCHS = 5
EPOCH_S = 0.6
KILL_AFTER_EPOCH = 2
_CLUSTER: list = []  # the Cluster can't travel inside a (pickled) Tune callback; the callback finds it here


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
    """Removes the worker node under the first trial whose KILL_AFTER_EPOCH checkpoint Tune has taken (runs on
    the driver's main thread).

    On the checkpoint, not on the result: Tune calls `on_trial_result` before it fetches that result's
    checkpoint from the trial, so a node removed there (under load, before the fetch) loses the epoch and the
    retry redoes it from the one before. `on_checkpoint` comes after the fetch, in the same controller step
    that registers it; the trial's next epoch waits for that step, so nothing is lost or redone.
    """

    def __init__(self):
        self.killed: dict | None = None

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        result = trial.last_result
        if self.killed is not None or result.get("epoch") != KILL_AFTER_EPOCH:
            return
        (victim,) = [n for n in _CLUSTER[0].worker_nodes if n.node_id == result["node"]]
        _CLUSTER[0].remove_node(victim, allow_graceful=False)
        self.killed = {"trial": trial.trial_id, "node": result["node"]}


def run(temp_dir: str, out: str) -> dict:
    """Start the cluster, run the two trials, remove a node mid-run; the summary of what happened."""
    cluster = start_multinode_cluster(temp_dir)
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        workers = sorted(node.node_id for node in cluster.worker_nodes)
        _CLUSTER[:] = [cluster]
        killer = KillNodeOfFirstTrial()
        tuner = tune.Tuner(
            tune.with_resources(epoch_trainable, {"cpu": 1, "gpu": 1}),
            param_space={"x": tune.grid_search([1.0, 2.0]), "log_dir": out},
            tune_config=tune.TuneConfig(metric="score", mode="max"),
            run_config=tune.RunConfig(
                name="node-loss",
                storage_path=os.path.join(out, "results"),
                failure_config=tune.FailureConfig(max_failures=3),
                callbacks=[killer],
                verbose=0,
            ),
        )
        results = tuner.fit()
        summary = {
            "workers": workers,
            "killed": killer.killed,
            "num_errors": results.num_errors,
            "trials": [
                {
                    "epochs": result.metrics_dataframe["epoch"].tolist(),
                    "metrics": {k: result.metrics[k] for k in ("epoch", "node", "resumed_from")},
                }
                for result in results
            ],
        }
    finally:
        ray.shutdown()
        cluster.shutdown()
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f)
    return summary


if __name__ == "__main__":
    # By its module name, not __main__: Tune's workers then import the trainable instead of receiving it
    # pickled by value together with this module's globals (the Cluster among them).
    from tests.clusters import node_loss_driver

    node_loss_driver.run(sys.argv[1], sys.argv[2])
