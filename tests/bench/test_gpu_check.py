"""bench/gpu_check.py runs end to end with --smoke on any machine, so it is known to work before GPU time is
spent on it; its FLOP count and peak table are checked here (its timings are not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from models.hourglass import HourglassConfig, StackedHourglass
from tests.bench.scripts import load_bench_script

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    return load_bench_script("gpu_check")


def test_peak_table_and_override(gpu_check):
    assert gpu_check.peak_tflops("NVIDIA H100 PCIe", None) == 756.0
    assert gpu_check.peak_tflops("NVIDIA H100 80GB HBM3", None) == 989.0
    assert gpu_check.peak_tflops("NVIDIA H200", None) == 989.0
    assert gpu_check.peak_tflops("NVIDIA A100-SXM4-80GB", None) == 312.0
    assert gpu_check.peak_tflops("Some Future GPU", None) is None
    assert gpu_check.peak_tflops("NVIDIA H200", 500.0) == 500.0


def test_step_flops_scale_with_batch_and_are_about_three_forwards(gpu_check):
    config = HourglassConfig(num_stacks=1, num_features=16, depth=2, num_joints=16, input_size=32)
    one, two = gpu_check.count_step_flops(config, 1), gpu_check.count_step_flops(config, 2)
    assert two == 2 * one > 0
    counter = FlopCounterMode(display=False)
    with torch.device("meta"), counter:
        StackedHourglass(config)(torch.empty(1, 3, 32, 32))
    assert 2.5 < one / counter.get_total_flops() < 3.5  # backward costs about twice the forward


@pytest.mark.slow
def test_smoke_run_writes_every_section(gpu_check, tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--smoke", "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    report = json.loads(out.read_text())
    assert report["errors"] == {} and report["smoke"] and len(report["loadavg"]) == 3
    assert {"step", "shards", "loader", "search", "predict"} <= set(report["sections"])
    step = report["step"]
    assert [v["name"] for v in step["variants"]][:2] == ["fp32 NCHW", "bf16 channels_last"]
    assert step["flops_per_step"] > 0 and all(v["images_per_s"] > 0 for v in step["variants"])
    assert [r["workers"] for r in report["loader"]["runs"]] == [0, 1]
    assert report["loader"]["loader_over_gpu_step"] > 0
    search = report["search"]
    assert len(search["trials"]) == 2 and all(t["epochs"] == 1 for t in search["trials"])
    assert search["concurrent"]
    assert report["predict"]["joints"] == 14 and report["predict"]["device"] == "cpu"
