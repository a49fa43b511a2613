"""Stacked hourglass network (Newell, Yang & Deng, "Stacked Hourglass Networks for Human Pose Estimation", 2016).

Reads like the paper: a 7x7 stem to 1/4 resolution, then `num_stacks` hourglasses, each a recursive
pool -> residual -> (smaller hourglass) -> residual -> nearest upsample, added to a full-resolution residual
branch; every stack predicts heatmaps (intermediate supervision, sec. 3.4) and, except the last, re-injects
them and its features into the trunk through 1x1 convolutions. At 2 stacks, 256 features, depth 4 and 16
joints this is the authors' network: 6.57 M parameters, every one of them used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import HourglassConfig  # the network's settings live in the light models.config

__all__ = ["HourglassConfig", "Residual", "Hourglass", "StackedHourglass", "count_parameters"]



class Residual(nn.Module):
    """Pre-activation bottleneck residual module (paper fig. 4 left): BN-ReLU-conv 1x1, 3x3, 1x1 at half width.

    The skip is the identity, or a 1x1 convolution only where the channel count changes. Convolutions keep
    their biases, as in the authors' code, so the parameter count matches theirs.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, 1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass of `depth` poolings: a full-resolution residual branch plus pool -> recurse -> upsample."""

    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.up = Residual(channels, channels)  # the branch that keeps this scale's detail
        self.low1 = Residual(channels, channels)
        self.low2 = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.low3 = Residual(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))
        # Nearest-neighbour upsampling, as in the paper (sec. 3.1), then the elementwise sum of the two branches.
        return self.up(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


class StackedHourglass(nn.Module):
    """`(B, 3, S, S)` images in [0, 1] -> `(B, num_stacks, num_joints, S/4, S/4)` heatmaps, one per stack."""

    def __init__(self, config: HourglassConfig):
        super().__init__()
        self.config = config
        f, j = config.num_features, config.num_joints
        # Stem (sec. 3.2): 7x7 stride-2 conv, a residual, max-pool to 1/4 resolution, two residuals up to f.
        # The paper's widths are 64 then 128 (stem_features 64); at half the input resolution they cost most
        # of a small network's compute, so a CPU-sized network narrows them with stem_features.
        s = config.stem_features
        self.stem = nn.Sequential(
            nn.Conv2d(3, s, 7, stride=2, padding=3),
            nn.BatchNorm2d(s),
            nn.ReLU(inplace=True),
            Residual(s, 2 * s),
            nn.MaxPool2d(2),
            Residual(2 * s, 2 * s),
            Residual(2 * s, f),
        )
        self.hourglasses = nn.ModuleList(Hourglass(config.depth, f) for _ in range(config.num_stacks))
        # After each hourglass: a residual and a 1x1 conv-BN-ReLU give the stack's features (fig. 4 right).
        self.features = nn.ModuleList(
            nn.Sequential(Residual(f, f), nn.Conv2d(f, f, 1), nn.BatchNorm2d(f), nn.ReLU(inplace=True))
            for _ in range(config.num_stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(f, j, 1) for _ in range(config.num_stacks))
        # Re-injection of predictions and features into the trunk: only between stacks, so the last stack has
        # none (a parameter that no loss ever reaches would be dead weight in the count and the optimiser).
        self.merge_features = nn.ModuleList(nn.Conv2d(f, f, 1) for _ in range(config.num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(j, f, 1) for _ in range(config.num_stacks - 1))

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps of every stack; with `return_features`, also the last stack's `(B, F, S/4, S/4)` features."""
        x = self.stem(x)
        heatmaps = []
        feature = x
        for i in range(self.config.num_stacks):
            feature = self.features[i](self.hourglasses[i](x))
            heatmap = self.heads[i](feature)
            heatmaps.append(heatmap)
            if i < self.config.num_stacks - 1:
                x = x + self.merge_features[i](feature) + self.merge_heatmaps[i](heatmap)
        stacked = torch.stack(heatmaps, dim=1)
        return (stacked, feature) if return_features else stacked


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
