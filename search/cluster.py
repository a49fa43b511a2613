"""The Ray cluster a command runs on: joining it (or starting a local one), and checking before a search
starts that some node can ever hold one trial.

Ray queues a trial whose resource bundle fits no node as PENDING and waits forever (an autoscaler
only logs "infeasible"). `check_resources_satisfiable` turns that into a clear error at launch.
It looks at the nodes alive now and, on an autoscaling cluster, at every node type the autoscaler
may still start (the cluster config it publishes to the GCS, the same record Ray Train and Ray
Data read).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Mapping

import ray

from search import PACKAGE_ROOT
from search.config import ExperimentConfig
from search.credentials import private_ray_temp_dir
from search.errors import ConfigError
from search.tracking import resolve_mode, wandb_env


def init_ray(address: str | None, env: dict[str, str], *, log_to_driver: bool = True) -> None:
    """Join a cluster (`--address` or RAY_ADDRESS) or start a local Ray; workers get `env`. Without
    `log_to_driver` the workers' output stays in Ray's session logs instead of this console."""
    os.environ.update(env)  # W&B reads WANDB_MODE from the driver's environment as well
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    env_vars = dict(env)
    if address == "local":
        # Workers of a local Ray can import the checkout even when it is not pip-installed.
        env_vars["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])
        )
    # A local Ray logs into a folder only this user can enter (Tune hands AWS credentials to trials
    # through runtime_env, which Ray's agent writes to its log); a cluster keeps its own temp dir.
    if address == "local":
        os.environ.setdefault("RAY_TMPDIR", private_ray_temp_dir())
    ray.init(
        address=address,
        runtime_env={"env_vars": env_vars},
        include_dashboard=False,
        log_to_driver=log_to_driver,
        logging_level=logging.WARNING,
    )


def start_ray(config: ExperimentConfig, address: str | None) -> float:
    """`init_ray` with the environment the config's tracking needs, then refuse a trial no node can hold
    (`check_resources_satisfiable`): what a search and a study do first. Returns the seconds Ray took to
    start."""
    start = time.perf_counter()
    init_ray(
        address,
        wandb_env(resolve_mode(config.tracking)),
        log_to_driver=config.tracking.console == "ray",
    )
    seconds = time.perf_counter() - start
    check_resources_satisfiable({"CPU": config.resources.cpu, "GPU": config.resources.gpu})
    return seconds


# Tune's `with_resources` spells CPU/GPU in lower case; Ray's nodes report them in upper case.
_CANONICAL = {"cpu": "CPU", "gpu": "GPU", "num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}

# Resources Ray adds to every node by itself; a trial never asks for them, so they only clutter messages.
_IMPLICIT_PREFIXES = ("node:", "accelerator_type:")
_IMPLICIT = {"memory", "object_store_memory"}

# Ray stores resources as fixed-point numbers with four decimals; compare with that tolerance.
_EPS = 1e-4


def normalize_request(per_trial: Mapping[str, float]) -> dict[str, float]:
    """The trial's bundle with Ray's resource names; zero entries dropped, bad amounts rejected."""
    bundle: dict[str, float] = {}
    for name, amount in per_trial.items():
        key = _CANONICAL.get(name, name)
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
            raise ConfigError(f"resource {name!r} must be a number, got {amount!r}", key=f"resources.{name}")
        if amount < 0:
            raise ConfigError(f"resource {name!r} must be >= 0, got {amount}", key=f"resources.{name}")
        if amount > 1 and key == "GPU" and amount != int(amount):
            raise ConfigError(
                f"a trial may take a fraction of one GPU or whole GPUs, not {amount}",
                key=f"resources.{name}",
            )
        if amount:
            bundle[key] = bundle.get(key, 0.0) + float(amount)
    return bundle


def fits(bundle: Mapping[str, float], node: Mapping[str, float]) -> bool:
    """True when a node with these total resources can hold the whole bundle at once."""
    return all(node.get(key, 0.0) + _EPS >= amount for key, amount in bundle.items())


def node_types_from_cluster_config(config) -> list[dict]:
    """Node shapes an autoscaler may launch, from its published `autoscaler_pb2.ClusterConfig`.

    Types with `max_count == 0` can never start and are left out; -1 means unbounded.
    """
    if config is None:
        return []
    shapes = []
    for group in config.node_group_configs:
        if group.max_count == 0 or not group.resources:
            continue
        shape = {key: float(value) for key, value in group.resources.items()}
        shape["_name"] = f"node type {group.name}" if group.name else "an autoscaler node type"
        shapes.append(shape)
    return shapes


def cluster_node_resources() -> list[dict]:
    """Total resources of every alive node plus every node type the autoscaler may add.

    Needs a connected Ray (`ray.init(address=...)`). Each dict carries a `_name` used in messages.
    """
    if not ray.is_initialized():
        raise RuntimeError("cluster_node_resources() needs a connected Ray: call ray.init(address=...) first")
    shapes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        shape = {key: float(value) for key, value in node.get("Resources", {}).items()}
        role = "head node" if "node:__internal_head__" in shape else "node"
        shape["_name"] = f"{role} {node.get('NodeManagerAddress', '?')} ({node.get('NodeID', '?')[:8]})"
        shapes.append(shape)
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # a fixed cluster or an older GCS has no published config
        config = None
    return shapes + node_types_from_cluster_config(config)


def _describe(shape: Mapping[str, float]) -> str:
    visible = {
        key: value
        for key, value in sorted(shape.items())
        if key != "_name" and key not in _IMPLICIT and not key.startswith(_IMPLICIT_PREFIXES)
    }
    body = ", ".join(f"{key}={value:g}" for key, value in visible.items()) or "no resources"
    return f"{shape.get('_name', 'a node')}: {body}"


def check_resources_satisfiable(
    per_trial: Mapping[str, float],
    cluster_resources: Iterable[Mapping[str, float]] | None = None,
    *,
    what: str = "one trial's resources",
    key: str = "resources",
) -> None:
    """Raise ConfigError unless at least one node (or launchable node type) can hold one bundle (a trial's, or
    `what` names it; `key` is the config key the error points at).

    `per_trial` is the resources of one trial, e.g. {"cpu": 2, "gpu": 0.5}; `cluster_resources` is
    a list of per-node total resources (default: read from the connected cluster). A bundle must fit
    on a single node: Tune places a trial's bundle on one node.
    """
    bundle = normalize_request(per_trial)
    shapes = list(cluster_node_resources() if cluster_resources is None else cluster_resources)
    if not bundle:
        return
    if any(fits(bundle, shape) for shape in shapes):
        return
    wanted = ", ".join(f"{key}={value:g}" for key, value in sorted(bundle.items()))
    if not shapes:
        seen = "the cluster reports no nodes"
    else:
        seen = "the cluster offers: " + "; ".join(_describe(shape) for shape in shapes)
    missing = sorted(
        key for key, amount in bundle.items() if not any(s.get(key, 0.0) + _EPS >= amount for s in shapes)
    )
    hint = f" (no node has enough {', '.join(missing)})" if missing else " (no single node has all of it)"
    raise ConfigError(
        f"no node can hold {what} {{{wanted}}}{hint}; {seen}. Lower them or add a node type that has "
        "them; otherwise Ray would keep the work PENDING forever",
        key=key,
    )
