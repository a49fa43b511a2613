"""`check_resources_satisfiable`: a trial bundle (or the warm start's pretraining task) that no node can hold is
refused before launch."""

from __future__ import annotations

import pytest
from ray.core.generated import autoscaler_pb2

from search.cluster import check_resources_satisfiable, node_types_from_cluster_config
from search.config import config_from_dict
from search.errors import ConfigError
from search.warm_start import pretrain
from tests.search.tiny import TINY

GPU_NODE = {"CPU": 8.0, "GPU": 1.0, "memory": 3e10}
CPU_NODE = {"CPU": 16.0, "enhance_cpu": 16.0}


@pytest.mark.parametrize(
    "per_trial",
    [{"cpu": 4, "gpu": 1}, {"cpu": 2, "gpu": 0.5}, {"CPU": 8}, {"enhance_cpu": 4}, {"cpu": 0, "gpu": 0}],
)
def test_bundles_that_fit_one_node_pass(per_trial):
    check_resources_satisfiable(per_trial, [GPU_NODE, CPU_NODE])


def test_two_gpus_on_one_gpu_nodes_is_refused_with_what_the_cluster_has():
    with pytest.raises(ConfigError) as caught:
        check_resources_satisfiable({"cpu": 1, "gpu": 2}, [GPU_NODE, GPU_NODE, CPU_NODE])
    message = str(caught.value)
    assert "GPU=2" in message and "no node has enough GPU" in message
    assert "CPU=8, GPU=1" in message  # says what the nodes offer
    assert "PENDING" in message and caught.value.key == "resources"


def test_resources_spread_over_nodes_do_not_count_as_one_node():
    # 12 CPUs exist on the GPU nodes together, but a trial's bundle must sit on a single node.
    with pytest.raises(ConfigError, match="no single node has all of it"):
        check_resources_satisfiable({"cpu": 10, "gpu": 1}, [GPU_NODE, CPU_NODE])


@pytest.mark.parametrize(
    ("per_trial", "problem"),
    [({"gpu": -1}, ">= 0"), ({"cpu": "two"}, "must be a number"), ({"gpu": 1.5}, "whole GPUs")],
)
def test_bad_amounts_are_config_errors(per_trial, problem):
    with pytest.raises(ConfigError, match=problem):
        check_resources_satisfiable(per_trial, [GPU_NODE])


def test_autoscaler_node_types_count_even_before_any_node_of_that_type_runs():
    # The record an autoscaler publishes to the GCS; a type with max_count 0 can never start.
    config = autoscaler_pb2.ClusterConfig(
        node_group_configs=[
            autoscaler_pb2.NodeGroupConfig(name="gpu_spot", resources={"CPU": 8, "GPU": 4}, max_count=4),
            autoscaler_pb2.NodeGroupConfig(name="disabled", resources={"CPU": 64, "GPU": 8}, max_count=0),
        ]
    )
    shapes = node_types_from_cluster_config(config)
    head = {"CPU": 0.0, "_name": "head"}
    check_resources_satisfiable({"cpu": 8, "gpu": 4}, [head, *shapes])
    with pytest.raises(ConfigError, match="node type gpu_spot: CPU=8, GPU=4"):
        check_resources_satisfiable({"gpu": 8}, [head, *shapes])


def test_real_multinode_cluster_with_logical_gpus(multinode_cluster, tmp_path):
    """Read from a running cluster: the CPU-less head and two 1-CPU/1-GPU workers."""
    check_resources_satisfiable({"cpu": 1, "gpu": 1})
    check_resources_satisfiable({"cpu": 1, "gpu": 0.25, "enhance_cpu": 1})
    with pytest.raises(ConfigError) as caught:
        check_resources_satisfiable({"cpu": 2, "gpu": 1})
    message = str(caught.value)
    assert "no node has enough CPU" in message
    offers = message.split("the cluster offers: ")[1]
    assert offers.count("CPU=1, GPU=1, enhance_cpu=1") == 2 and "head node" in offers

    # The warm start's pretraining task asks for warm_start.cpu CPUs on one node: refused, not PENDING forever.
    config = config_from_dict(TINY).with_params({"warm_start.pretrain_epochs": 1, "warm_start.cpu": 2.0})
    with pytest.raises(ConfigError) as caught:
        pretrain(config, str(tmp_path / "state.pt"), str(tmp_path / "metrics.json"), progress=False)
    assert caught.value.key == "warm_start.cpu"
    assert "no node can hold the warm start's pretraining run {CPU=2}" in str(caught.value)
    assert not (tmp_path / "state.pt").exists()
