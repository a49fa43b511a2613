"""Training throughput (images/s) of the 2-stack, 256-feature hourglass at 256² and batch 8.

One run compares, on the same machine and threads:
- ours, NCHW (contiguous) vs channels_last, on CPU;
- a straightforward reimplementation of the authors' PyTorch port (princeton-vl/pytorch_stacked_hourglass:
  conv-with-bias blocks, a skip conv built in every residual, NHWC input permuted inside forward), written
  here from its description rather than copied;
- on CUDA, when present: ours in fp32 vs bf16 autocast + channels_last, with and without torch.compile.

A step is forward + weighted heatmap MSE over every stack + backward + RMSprop. Run:
    python -m bench.train_step [--steps 3] [--warmup 1] [--out bench/results/train_step.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.common import RESULTS
from models.hourglass import HourglassConfig, StackedHourglass, count_parameters
from models.losses import heatmap_mse

BATCH, SIZE, JOINTS = 8, 256, 16


# --- The authors' port, reimplemented: the same layers and order, its conventions kept where they cost time.
class RefConv(nn.Module):
    def __init__(self, cin, cout, k=3, stride=1, bn=False, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=(k - 1) // 2, bias=True)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x) if self.bn is not None else x
        return self.relu(x) if self.relu is not None else x


class RefResidual(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        half = cout // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), RefConv(cin, half, 1, relu=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(half), RefConv(half, half, 3, relu=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(half), RefConv(half, cout, 1, relu=False)
        self.skip = RefConv(cin, cout, 1, relu=False)  # built always, used only when channels change
        self.use_skip = cin != cout

    def forward(self, x):
        residual = self.skip(x) if self.use_skip else x
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + residual


class RefHourglass(nn.Module):
    def __init__(self, n, f):
        super().__init__()
        self.up1, self.pool, self.low1 = RefResidual(f, f), nn.MaxPool2d(2, 2), RefResidual(f, f)
        self.low2 = RefHourglass(n - 1, f) if n > 1 else RefResidual(f, f)
        self.low3, self.up2 = RefResidual(f, f), nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(self.pool(x)))))


class RefPoseNet(nn.Module):
    def __init__(self, nstack=2, f=256, joints=JOINTS):
        super().__init__()
        self.nstack = nstack
        self.pre = nn.Sequential(
            RefConv(3, 64, 7, 2, bn=True, relu=True),
            RefResidual(64, 128),
            nn.MaxPool2d(2, 2),
            RefResidual(128, 128),
            RefResidual(128, f),
        )
        self.hgs = nn.ModuleList(RefHourglass(4, f) for _ in range(nstack))
        self.features = nn.ModuleList(
            nn.Sequential(RefResidual(f, f), RefConv(f, f, 1, bn=True, relu=True)) for _ in range(nstack)
        )
        self.outs = nn.ModuleList(RefConv(f, joints, 1, relu=False) for _ in range(nstack))
        self.merge_features = nn.ModuleList(RefConv(f, f, 1, relu=False) for _ in range(nstack - 1))
        self.merge_preds = nn.ModuleList(RefConv(joints, f, 1, relu=False) for _ in range(nstack - 1))

    def forward(self, imgs):  # NHWC images, as the port's data loader yields them
        x = self.pre(imgs.permute(0, 3, 1, 2))
        preds = []
        for i in range(self.nstack):
            feature = self.features[i](self.hgs[i](x))
            pred = self.outs[i](feature)
            preds.append(pred)
            if i < self.nstack - 1:
                x = x + self.merge_preds[i](pred) + self.merge_features[i](feature)
        return torch.stack(preds, 1)


def _time_steps(model, make_input, device, steps, warmup, autocast_dtype=None):
    """Median seconds per training step after `warmup` steps."""
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(BATCH, JOINTS, SIZE // 4, SIZE // 4, generator=gen).to(device)
    weights = torch.ones(BATCH, JOINTS, device=device)
    x = make_input(gen)
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        ctx = (
            torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
        )
        with ctx:
            out = model(x)
        loss = heatmap_mse(out, target, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), times


def _ours(device, channels_last, compile_=False):
    torch.manual_seed(0)
    model = StackedHourglass(HourglassConfig()).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    fwd = torch.compile(model) if compile_ else model

    def make_input(gen):
        return torch.rand(BATCH, 3, SIZE, SIZE, generator=gen).to(device).contiguous(memory_format=fmt)

    return model, fwd, make_input


def _reference(device):
    torch.manual_seed(0)
    model = RefPoseNet().to(device)

    def make_input(gen):
        return torch.rand(BATCH, SIZE, SIZE, 3, generator=gen).to(device)

    return model, model, make_input


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "train_step.json"))
    args = parser.parse_args(argv)

    cpu = torch.device("cpu")
    runs = [
        ("cpu ours NCHW fp32", cpu, lambda: _ours(cpu, False), None),
        ("cpu ours channels_last fp32", cpu, lambda: _ours(cpu, True), None),
        ("cpu reference (princeton-vl port) fp32", cpu, lambda: _reference(cpu), None),
    ]
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        runs += [
            ("cuda ours NCHW fp32", gpu, lambda: _ours(gpu, False), None),
            ("cuda reference (princeton-vl port) fp32", gpu, lambda: _reference(gpu), None),
            ("cuda ours channels_last bf16", gpu, lambda: _ours(gpu, True), torch.bfloat16),
            ("cuda ours channels_last bf16 compile", gpu, lambda: _ours(gpu, True, True), torch.bfloat16),
        ]
    results = []
    for name, device, build, dtype in runs:
        model, fwd, make_input = build()
        warmup = args.warmup + (2 if "compile" in name else 0)
        median, times = _time_steps(fwd, make_input, device, args.steps, warmup, dtype)
        row = {
            "name": name,
            "images_per_s": BATCH / median,
            "step_s_median": median,
            "step_s": times,
            "parameters": count_parameters(model),
        }
        results.append(row)
        print(f"{name:45s} {row['images_per_s']:8.2f} images/s  ({median:.3f} s/step)", flush=True)
        del model, fwd
    report = {
        "batch": BATCH,
        "input_size": SIZE,
        "network": "2 stacks, 256 features, depth 4, 16 joints",
        "steps": args.steps,
        "warmup": args.warmup,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
