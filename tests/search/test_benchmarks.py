"""The benchmark scripts run end to end on a tiny budget (their numbers are not asserted)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from tests.bench.scripts import load_bench_script
from tests.search.tiny import TINY, tiny_config


def _tiny_yaml(tmp_path, shard_root) -> str:
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    return str(path)


@pytest.mark.slow
def test_tune_overhead_quick(tmp_path, shard_root, ray_session):
    module = load_bench_script("tune_overhead")
    out = tmp_path / "results"
    args = ["--quick", "--config", _tiny_yaml(tmp_path, shard_root), "--storage", str(tmp_path / "runs")]
    assert module.main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "tune_overhead_quick.json").read_text())
    assert len(summary["bare"]["epoch_s"]) == len(summary["tune"]["epoch_s"]) == summary["epochs"] == 2
    assert summary["per_epoch_ratio_tune_to_bare"] > 0 and summary["total_ratio_tune_to_bare"] > 0


@pytest.mark.slow
def test_enhance_benchmark_tiny(tmp_path, ray_session):
    module = load_bench_script("enhance")
    out = tmp_path / "enhance.json"
    args = ["--clips", "4", "--size", "48", "--loader-samples", "20", "--out", str(out)]
    assert module.main(args) == 0
    result = json.loads(out.read_text())
    images = result["single_process"]["images"]
    runs = result["ray_data"]["runs"]
    assert [r["run"] for r in runs] == ["cold", "warm", "warm-2", "warm-ray-default-reservation"]
    assert images > 0 and all(r["images"] == images for r in runs)  # every run did the same work
    assert set(result["single_process"]["ms_per_image"]) == {"decode", "brightness", "crop", "encode"}
    assert all(v > 0 and math.isfinite(v) for v in result["ratios"].values())
    assert all(v > 0 for v in result["loader"]["samples_per_s"].values())
