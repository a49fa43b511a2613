"""The KubeRay manifests validate against KubeRay v1.7.0's CRD schemas, and no key is misspelled.

A CRD's structural schema leaves `additionalProperties` unset, so plain JSON-schema validation (like
the API server, which prunes unknown fields silently) accepts `tolerationz:`. `unknown_keys` walks
the manifest along the schema's `properties` and reports every key the schema does not know.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = Path(__file__).resolve().parent / "crds"
MANIFESTS = sorted((ROOT / "clusters" / "kuberay").glob("*.yaml"))
SCHEMAS = {"RayJob": "ray.io_rayjobs.v1.json", "RayCluster": "ray.io_rayclusters.v1.json"}

# ObjectMeta is `type: object` in a CRD (the API server checks it); these are its fields.
OBJECT_META = {"name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences"}


def _schema(kind: str) -> dict:
    return json.loads((CRDS / SCHEMAS[kind]).read_text())


def unknown_keys(value, schema: dict, path: str = "") -> list[str]:
    """Paths of keys in `value` that `schema` does not declare (where it does not preserve unknown fields)."""
    found = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is not None:
            for key, item in value.items():
                if key in properties:
                    found += unknown_keys(item, properties[key], f"{path}.{key}")
                elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                    found.append(f"{path}.{key}")
        elif isinstance(extra, dict):  # a map: every value has the same schema
            for key, item in value.items():
                found += unknown_keys(item, extra, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += unknown_keys(item, schema["items"], f"{path}[{index}]")
    return found


def check_manifest(document: dict) -> None:
    """Raise with every problem: schema violations, unknown keys, unknown ObjectMeta fields."""
    kind = document.get("kind")
    assert kind in SCHEMAS, f"no vendored CRD schema for kind {kind!r}"
    schema = _schema(kind)
    jsonschema.validate(document, schema, cls=jsonschema.Draft7Validator)
    problems = unknown_keys(document, schema)
    problems += [f".metadata.{key}" for key in document.get("metadata", {}) if key not in OBJECT_META]
    if problems:
        raise ValueError(f"unknown keys in {kind}: {', '.join(problems)}")


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_both_manifests_are_there():
    assert {p.name for p in MANIFESTS} >= {"raycluster-gpu.yaml", "rayjob-search.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_its_crd(path):
    for document in _documents(path):
        assert document["apiVersion"] == "ray.io/v1"
        check_manifest(document)


def _cluster_spec(document: dict) -> dict:
    return document["spec"]["rayClusterSpec"] if document["kind"] == "RayJob" else document["spec"]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_gpu_workers_cpu_head_secret_and_ray_version(path):
    (document,) = _documents(path)
    spec = _cluster_spec(document)
    assert spec["rayVersion"] == "2.60.0"
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    groups = {group["groupName"]: group for group in spec["workerGroupSpecs"]}
    gpu_pod = groups["gpu"]["template"]["spec"]
    (container,) = gpu_pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu_pod["tolerations"]
    assert "enhance_cpu" in groups["enhance"]["rayStartParams"]["resources"]
    env = {e["name"]: e for e in container["env"]}
    assert env["WANDB_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "wandb"


def test_rayjob_resubmits_and_resumes_the_same_experiment():
    (job,) = _documents(ROOT / "clusters" / "kuberay" / "rayjob-search.yaml")
    entry = job["spec"]["entrypoint"].split()
    assert entry[:3] == ["posetune", "search", "launch"]
    assert "--resume-if-exists" in entry and "--name" in entry
    assert entry[entry.index("--storage") + 1].startswith("s3://")
    assert job["spec"]["backoffLimit"] >= 1


@pytest.mark.parametrize(
    ("where", "key", "misspelled"),
    [
        (("spec",), "backoffLimit", "backofLimit"),
        (("spec", "rayClusterSpec", "workerGroupSpecs", 0, "template", "spec"), "tolerations", "tolerationz"),
        (("spec", "rayClusterSpec", "headGroupSpec", "template", "spec", "containers", 0), "image", "imagee"),
        (("metadata",), "labels", "lables"),
    ],
)
def test_a_misspelled_key_is_caught(where, key, misspelled):
    (job,) = _documents(ROOT / "clusters" / "kuberay" / "rayjob-search.yaml")
    broken = copy.deepcopy(job)
    node = broken
    for part in where:
        node = node[part]
    node[misspelled] = node.pop(key)
    # The CRD schema alone accepts it (the API server would silently drop the field) ...
    jsonschema.validate(broken, _schema("RayJob"), cls=jsonschema.Draft7Validator)
    # ... the unknown-key walk does not.
    with pytest.raises(ValueError, match=misspelled):
        check_manifest(broken)


def test_a_wrong_type_is_caught_by_the_crd_schema():
    (job,) = _documents(ROOT / "clusters" / "kuberay" / "rayjob-search.yaml")
    broken = copy.deepcopy(job)
    broken["spec"]["backoffLimit"] = "three"
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'integer'"):
        check_manifest(broken)
