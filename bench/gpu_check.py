"""The GPU check: everything posetune does on a GPU, measured in one run of under 8 minutes on one H100/H200.

Sections (each writes into the results file as soon as it ends, so a cut-short run keeps what it measured):
- `cuda_tests`: `pytest -m cuda` (the tests that skip without a GPU).
- `step`: one training step (forward, heatmap MSE over every stack, backward, RMSprop) of the 2-stack
  256-feature hourglass at 256² and batch >= 32, in fp32 NCHW, bf16 autocast + channels_last, and the
  same under torch.compile: images/s, model FLOPs per step (torch.utils.flop_counter.FlopCounterMode) and
  model FLOP utilisation against the GPU's dense bf16 peak (table below, or --peak-tflops).
- `loader`: the trial's DataLoader (augmentation with occlusion, N workers) in samples/s against the GPU's
  bf16 step rate, on demo shards enhanced at 256 px.
- `search`: `posetune search launch` of 2 trials sharing one GPU (`resources.gpu: 0.5`) for a few epochs.
- `predict`: `posetune search export` of that search, then `posetune predict --device cuda`.

    python -m bench.gpu_check                      # on the GPU machine -> bench/results/gpu.json
    python -m bench.gpu_check --smoke --out /tmp/gpu_smoke.json   # tiny sizes on CPU, about a minute

Targets on an H100/H200-class GPU: bf16 + channels_last >= 2x fp32, >= 35 % MFU, loader >= 3x the step rate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import RESULTS, ROOT
from bench.demo_shards import demo_shards, posetune
from data_pipeline.loader import AugmentConfig, ShardDataset
from models.config import TrainConfig
from models.hourglass import HourglassConfig, StackedHourglass
from models.loaders import train_loader
from models.losses import heatmap_mse

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' data sheets; matched by substring of
# torch.cuda.get_device_name(), most specific first. --peak-tflops overrides.
BF16_PEAK_TFLOPS = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM
    ("GH200", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("RTX 4090", 165.0),
)
JOINTS = 16


def peak_tflops(device_name: str | None, override: float | None) -> float | None:
    """The bf16 dense peak for this device (TFLOP/s), or None when unknown (then MFU is not reported)."""
    if override is not None:
        return override
    for key, value in BF16_PEAK_TFLOPS:
        if device_name and key in device_name:
            return value
    return None


# ------------------------------------------------------------------------------------------------ step


def _step_fn(model, forward, device, batch, size, autocast_dtype, memory_format):
    """A closure running one training step on a fixed batch (the data cost is measured separately)."""
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, generator=gen)
    target = torch.rand(batch, JOINTS, size // 4, size // 4, generator=gen).to(device)
    weights = torch.ones(batch, JOINTS, device=device)
    images = images.to(device)

    def step():
        x = images.permute(0, 3, 1, 2).float().div_(255.0).contiguous(memory_format=memory_format)
        ctx = (
            torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
        )
        with ctx:
            out = forward(x)
        loss = heatmap_mse(out.float(), target, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def count_step_flops(config: HourglassConfig, batch: int) -> int:
    """Model FLOPs of one training step (forward + backward), counted by torch on a meta-device copy."""
    with torch.device("meta"):
        model = StackedHourglass(config)
        x = torch.empty(batch, 3, config.input_size, config.input_size)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).float().square().mean().backward()
    return int(counter.get_total_flops())


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_step(step, device, steps: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def run_step(args, device, config: HourglassConfig) -> dict:
    flops = count_step_flops(config, args.batch)
    peak = peak_tflops(_device_name(device), args.peak_tflops)
    variants = [("fp32 NCHW", None, False, False), ("bf16 channels_last", torch.bfloat16, True, False)]
    if not args.no_compile:
        variants.append(("bf16 channels_last compile", torch.bfloat16, True, True))
    rows = []
    for name, dtype, channels_last, compiled in variants:
        torch.manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = StackedHourglass(config).to(device, memory_format=fmt).train()
        forward = torch.compile(model) if compiled else model
        step = _step_fn(model, forward, device, args.batch, config.input_size, dtype, fmt)
        started = time.perf_counter()
        times = time_step(step, device, args.steps, args.warmup + (2 if compiled else 0))
        median = statistics.median(times)
        row = {
            "name": name,
            "images_per_s": args.batch / median,
            "step_s_median": median,
            "step_s": times,
            "tflops_achieved": flops / median / 1e12,
            "mfu_vs_bf16_peak": (flops / median / 1e12) / peak if peak else None,
            "wall_s_incl_warmup": time.perf_counter() - started,
        }
        if device.type == "cuda":
            row["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
            torch.cuda.reset_peak_memory_stats()
        rows.append(row)
        mfu = f"{row['mfu_vs_bf16_peak']:.1%}" if peak else "n/a"
        print(
            f"  {name:28s} {row['images_per_s']:9.1f} img/s  {row['tflops_achieved']:7.2f} TFLOP/s  MFU {mfu}"
        )
        del model, forward, step
    by = {r["name"]: r["images_per_s"] for r in rows}
    return {
        "network": f"{config.num_stacks} stacks, {config.num_features} features, depth {config.depth}, "
        f"{config.num_joints} joints, {config.input_size}² input",
        "batch": args.batch,
        "flops_per_step": flops,
        "bf16_peak_tflops": peak,
        "variants": rows,
        "bf16_cl_over_fp32": by["bf16 channels_last"] / by["fp32 NCHW"],
        "targets": {"bf16_cl_over_fp32 >= 2": None, "mfu >= 0.35": None},
    }


# ------------------------------------------------------------------------------------------------ data


def run_loader(args, shards: Path, input_size: int, gpu_images_per_s: float | None) -> dict:
    """Samples/s of the trial's training DataLoader (augmentation + occlusion) with 0 and N workers."""
    dataset = ShardDataset(
        str(shards), "source", "train", input_size, AugmentConfig(occlusion_prob=0.3, rotation_deg=30.0)
    )
    rows = []
    for workers in sorted({0, args.workers}):
        # The trial's own loader (persistent workers, one OpenCV thread each, pinned memory on CUDA).
        config = TrainConfig(batch_size=args.batch, num_workers=workers)
        loader = train_loader(dataset, config, batch_size=args.batch, steps=args.loader_batches + 1, stream=0)
        batches = iter(loader)
        next(batches)  # the first batch pays the workers' start-up
        started, seen = time.perf_counter(), 0
        for batch in batches:
            seen += len(batch["image"])
        rate = seen / (time.perf_counter() - started)
        rows.append({"workers": workers, "samples_per_s": rate})
        print(f"  loader, {workers:2d} workers: {rate:8.1f} samples/s")
        del batches, loader
    best = max(r["samples_per_s"] for r in rows)
    return {
        "dataset_samples": len(dataset),
        "batch": args.batch,
        "augment": "occlusion 0.3, rotation 30, scale 0.75-1.25, flip 0.5",
        "runs": rows,
        "gpu_bf16_step_images_per_s": gpu_images_per_s,
        "loader_over_gpu_step": best / gpu_images_per_s if gpu_images_per_s else None,
        "cpus": os.cpu_count(),
    }


# ------------------------------------------------------------------------------------------------ search


def run_search(args, work: Path, shards: Path, device, crop: int) -> dict:
    """Two trials on one GPU (`resources.gpu: 0.5`): both must run at once and train on CUDA."""
    gpu = device.type == "cuda"
    s = args.search
    overrides = {
        "data.demo": False,
        "data.shards": str(shards),
        "data.size": crop,  # the config must say how its shards were made (they are checked against it)
        "model.num_stacks": s["stacks"],
        "model.num_features": s["features"],
        "model.input_size": s["input"],
        "train.epochs": s["epochs"],
        "train.steps_per_epoch": s["steps"],
        "train.batch_size": s["batch"],
        "train.num_workers": s["workers"],
        "train.max_eval_samples": s["eval"],
        "train.eval_batch_size": s["batch"],
        "train.device": "cuda" if gpu else "cpu",  # a trial that sees no GPU fails instead of crawling
        "train.channels_last": True,
        "search.num_samples": 2,
        "search.max_concurrent": 2,
        "scheduler.type": "none",
        "resources.cpu": s["cpus"],
        "resources.gpu": 0.5 if gpu else 0,
        "tracking.wandb": "none",
        "warm_start.pretrain_epochs": 0,  # the demo's source pretraining is not what this section checks
    }
    sets = [f"--set={k}={json.dumps(v)}" for k, v in overrides.items()]
    name = f"gpu-check-{int(time.time())}"
    started = time.perf_counter()
    posetune(["search", "launch", "--config", "demo", "--name", name, "--storage", str(work / "runs"), *sets])
    wall = time.perf_counter() - started
    uri = str(work / "runs" / name)
    trials = []
    for result_file in sorted((work / "runs" / name).glob("*/result.json")):
        rows = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
        # Ray's `timestamp` is whole seconds (floored): the trial ended in [ts, ts + 1) and started
        # `time_total_s` before that, so [ts + 1 - total, ts] lies inside its running interval for sure.
        ended = rows[-1]["timestamp"]
        trials.append(
            {
                "trial_id": rows[-1]["trial_id"],
                "pid": rows[-1]["pid"],
                "epochs": len(rows),
                "train_images_per_s": [r["train_images_per_s"] for r in rows],
                "epoch_time_s": [r["epoch_time_s"] for r in rows],
                "start": ended + 1 - rows[-1]["time_total_s"],
                "end": ended,
            }
        )
    # Both trials on the one GPU at once: the parts of their intervals known for sure overlap.
    overlap = min(t["end"] for t in trials) - max(t["start"] for t in trials) if len(trials) == 2 else None
    return {
        "experiment": uri,
        "wall_s": wall,
        "trials": trials,
        "overlap_s": overlap,
        "concurrent": bool(overlap and overlap > 0),
        "overrides": overrides,
    }


def run_predict(args, work: Path, experiment: str, device) -> dict:
    """Export the search's best checkpoint and run `posetune predict` on the device."""
    best = work / "best.pt"
    posetune(["search", "export", experiment, "--out", str(best)])
    picture = work / "person.png"
    image = np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    cv2.imwrite(str(picture), image)
    out = work / "predictions"
    started = time.perf_counter()
    posetune(["predict", str(best), str(picture), "--out", str(out), "--device", device.type])
    predictions = json.loads((out / "predictions.json").read_text())
    return {
        "device": device.type,
        "seconds": time.perf_counter() - started,
        "joints": len(predictions[str(picture)]["joints"]),
    }


# ------------------------------------------------------------------------------------------------ main


def _device_name(device) -> str:
    return torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu"


def _write(path: Path, report: dict) -> None:
    report["loadavg"] = os.getloadavg()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _targets(report: dict) -> None:
    step = report.get("step")
    if step:
        step["targets"]["bf16_cl_over_fp32 >= 2"] = step["bf16_cl_over_fp32"] >= 2
        best = max((r["mfu_vs_bf16_peak"] or 0) for r in step["variants"])
        step["targets"]["mfu >= 0.35"] = best >= 0.35 if step["bf16_peak_tflops"] else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "gpu.json"))
    parser.add_argument("--work", default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on any device, to test the script")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default 32; smoke 4)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: CPUs - 2)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument(
        "--sections", default="cuda_tests,step,loader,search,predict", help="comma-separated sections to run"
    )
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.smoke:
        config = HourglassConfig(num_stacks=1, num_features=16, depth=2, num_joints=JOINTS, input_size=64)
        args.batch, args.steps = args.batch or 4, args.steps or 2
        args.warmup, args.workers, args.loader_batches = 1, args.workers or 1, 4
        args.no_compile = args.no_compile or device.type == "cpu"
        clips, crop = 4, 64
        args.search = {"stacks": 1, "features": 8, "input": 32, "epochs": 1, "steps": 30, "batch": 4,
                       "workers": 0, "eval": 8, "cpus": 1}  # fmt: skip
    else:
        config = HourglassConfig(num_stacks=2, num_features=256, depth=4, num_joints=JOINTS, input_size=256)
        args.batch, args.steps = args.batch or 32, args.steps or 10
        args.workers, args.loader_batches = args.workers or max(1, (os.cpu_count() or 2) - 2), 40
        clips, crop = 60, 256
        cpus = max(1, ((os.cpu_count() or 2) - 2) // 2)
        args.search = {"stacks": 2, "features": 256, "input": 256, "epochs": 3, "steps": 30, "batch": 32,
                       "workers": max(0, cpus - 1), "eval": 128, "cpus": cpus}  # fmt: skip
    sections = set(args.sections.split(","))
    out = Path(args.out)
    work = Path(args.work) if args.work else Path(__import__("tempfile").mkdtemp(prefix="posetune-gpu-"))
    report: dict = {
        "smoke": args.smoke,
        "device": _device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpus": os.cpu_count(),
        "sections": {},
        "errors": {},
    }
    started = time.perf_counter()

    def section(name, fn, needed=False):
        if name not in sections and not needed:
            return None
        print(f"[{time.perf_counter() - started:6.1f} s] {name}", flush=True)
        t0 = time.perf_counter()
        try:
            value = fn()
        except Exception as error:  # a failed section is recorded and the next one still runs
            report["errors"][name] = f"{type(error).__name__}: {error}"
            print(f"  FAILED: {report['errors'][name]}", flush=True)
            value = None
        report["sections"][name] = time.perf_counter() - t0
        if value is not None:
            report[name] = value
        _targets(report)
        _write(out, report)
        return value

    if device.type == "cuda":
        section("cuda_tests", lambda: _pytest_cuda())
    step = section("step", lambda: run_step(args, device, config))
    gpu_rate = None
    if step:
        gpu_rate = next(r["images_per_s"] for r in step["variants"] if r["name"] == "bf16 channels_last")
    shards = None
    if sections & {"loader", "search", "predict"}:
        shards = section("shards", lambda: str(demo_shards(work, clips, crop)), needed=True)
    if shards:
        section("loader", lambda: run_loader(args, Path(shards), config.input_size, gpu_rate))
        search = section("search", lambda: run_search(args, work, Path(shards), device, crop))
        if search:
            section("predict", lambda: run_predict(args, work, search["experiment"], device))
    report["total_s"] = time.perf_counter() - started
    _write(out, report)
    print(f"wrote {out} in {report['total_s']:.0f} s; errors: {sorted(report['errors']) or 'none'}")
    return 1 if report["errors"] else 0


def _pytest_cuda() -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode not in (0, 5):
        raise RuntimeError(f"pytest -m cuda failed: {summary}\n{done.stdout[-3000:]}")
    return {"summary": summary, "returncode": done.returncode}


if __name__ == "__main__":
    sys.exit(main())
