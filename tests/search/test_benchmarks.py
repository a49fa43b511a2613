"""The benchmark scripts run end to end on a tiny budget (their numbers are not asserted)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import yaml

from tests.search.conftest import TINY, tiny_config

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_yaml(tmp_path, shard_root) -> str:
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    return str(path)


@pytest.mark.slow
def test_search_efficiency_quick(tmp_path, shard_root, ray_session):
    module = _script("search_efficiency")
    out = tmp_path / "results"
    args = ["--quick", "--config", _tiny_yaml(tmp_path, shard_root), "--storage", str(tmp_path / "runs")]
    assert module.main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "search_efficiency_quick.json").read_text())
    budget = summary["budget_trial_epochs"]
    assert set(summary["curves"]) == set(module.STRATEGIES)
    for name, runs in summary["runs"].items():
        assert len(runs) == summary["seeds"]
        for run in runs:
            assert 1 <= run["trial_epochs"] <= budget
            curve = run["best_so_far"]
            assert all(b >= a for a, b in zip(curve, curve[1:], strict=False)), name
        assert len(summary["curves"][name]["mean"]) == budget
    assert all(math.isfinite(v) for v in summary["final_best_mean"].values())
    assert (out / "search_efficiency_quick.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_tune_overhead_quick(tmp_path, shard_root, ray_session):
    module = _script("tune_overhead")
    out = tmp_path / "results"
    args = ["--quick", "--config", _tiny_yaml(tmp_path, shard_root), "--storage", str(tmp_path / "runs")]
    assert module.main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "tune_overhead_quick.json").read_text())
    assert len(summary["bare"]["epoch_s"]) == len(summary["tune"]["epoch_s"]) == summary["epochs"] == 2
    assert summary["per_epoch_ratio_tune_to_bare"] > 0 and summary["total_ratio_tune_to_bare"] > 0
