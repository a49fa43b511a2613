"""The launcher YAMLs in clusters/ pass Ray 2.60's own config preparation and schema, offline."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTERS = Path(__file__).resolve().parents[2] / "clusters"
LAUNCHER_YAMLS = ["aws-gpu.yaml", "gcp-gpu.yaml", "onprem.yaml"]


def _load(name: str) -> dict:
    return yaml.safe_load((CLUSTERS / name).read_text())


def _prepared(config: dict) -> dict:
    """What `ray up` does before it validates: fill defaults, merge setup commands, expand node types."""
    full = prepare_config(copy.deepcopy(config))
    validate_config(full)
    return full


@pytest.mark.parametrize("name", LAUNCHER_YAMLS)
def test_launcher_yaml_validates_with_rays_schema(name):
    full = _prepared(_load(name))
    head = full["available_node_types"][full["head_node_type"]]
    assert head["resources"].get("CPU", 0) == 0 or "--num-cpus=0" in " ".join(full["head_start_ray_commands"])


@pytest.mark.parametrize("name", LAUNCHER_YAMLS)
def test_every_node_installs_ray_2_60_and_posetune(name):
    full = _prepared(_load(name))
    assert full["file_mounts"]["~/posetune"] == "."
    command_lists = [full["head_setup_commands"]]
    for node_type, spec in full["available_node_types"].items():
        if node_type != full["head_node_type"]:
            command_lists.append(spec.get("worker_setup_commands", full["worker_setup_commands"]))
    for commands in command_lists:
        text = "\n".join(commands)
        assert '"ray[default,tune,data]==2.60.0" ~/posetune' in text, text


@pytest.mark.parametrize("name", ["aws-gpu.yaml", "gcp-gpu.yaml"])
def test_cloud_configs_have_a_cpu_head_spot_gpus_and_enhancement_workers(name):
    full = _prepared(_load(name))
    types = full["available_node_types"]
    assert types[full["head_node_type"]]["resources"] == {"CPU": 0}
    workers = {k: v for k, v in types.items() if k != full["head_node_type"]}
    gpu = [v for k, v in workers.items() if "gpu" in k]
    enhance = [v for v in workers.values() if v["resources"].get("enhance_cpu", 0) > 0]
    assert gpu and enhance
    text = yaml.safe_dump(gpu[0]["node_config"])
    assert "spot" in text.lower()
    assert "cu12" in " ".join(gpu[0]["worker_setup_commands"])  # CUDA torch on GPU nodes
    assert 0 < full["idle_timeout_minutes"] <= 30
    assert all(v["min_workers"] <= v["max_workers"] <= full["max_workers"] for v in workers.values())


@pytest.mark.parametrize(
    ("name", "path", "key", "misspelled"),
    [
        ("aws-gpu.yaml", (), "idle_timeout_minutes", "idle_timout_minutes"),
        ("gcp-gpu.yaml", ("available_node_types", "ray_worker_gpu_spot"), "max_workers", "max_worker"),
        ("onprem.yaml", (), "head_setup_commands", "head_setup_comands"),
        ("aws-gpu.yaml", ("docker",), "pull_before_run", "pull_before_runn"),
    ],
)
def test_a_misspelled_key_is_rejected(name, path, key, misspelled):
    config = _load(name)
    _prepared(config)  # the file as shipped is fine
    node = config
    for part in path:
        node = node[part]
    node[misspelled] = node.pop(key)
    with pytest.raises(jsonschema.ValidationError, match="Additional properties are not allowed"):
        _prepared(config)
