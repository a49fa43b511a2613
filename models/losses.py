"""Pose losses over every stack's heatmaps (intermediate supervision: each stack gets the full loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.config import LOSS_NAMES


def _weighted_mean(per_joint: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of `(B, stacks, J)` losses over the weighted joints, summed over stacks."""
    w = weights[:, None, :].expand_as(per_joint)
    return (per_joint * w).sum() / w[:, 0].sum().clamp_min(1.0)


def heatmap_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted MSE on Gaussian heatmaps: Σ_stacks mean_{visible joints} mean_pixels (pred − target)².

    Shape:
        - pred: `(B, stacks, J, H, W)`; target: `(B, J, H, W)`; weights: `(B, J)` (0 for invisible joints)
        - output: scalar
    """
    per_joint = (pred.float() - target[:, None].float()).pow(2).mean(dim=(-2, -1))
    return _weighted_mean(per_joint, weights)


def heatmap_cross_entropy(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The study's loss: softmax over the H·W pixels of each joint map, cross-entropy against the target.

    The target is the Gaussian normalised to sum 1 (the study's one-hot label is its σ -> 0 limit).

    Shape:
        - pred: `(B, stacks, J, H, W)` logits; target: `(B, J, H, W)`; weights: `(B, J)`
        - output: scalar
    """
    log_prob = F.log_softmax(pred.float().flatten(-2), dim=-1)
    t = target.float().flatten(-2)
    t = t / t.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    per_joint = -(t[:, None] * log_prob).sum(dim=-1)
    return _weighted_mean(per_joint, weights)


# by the names a config may give (models.config.LOSS_NAMES, which TrainConfig checks without torch)
LOSSES = dict(zip(LOSS_NAMES, (heatmap_mse, heatmap_cross_entropy), strict=True))


def pose_loss(name: str, pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The named pose loss ("mse" or "ce")."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: expected one of {sorted(LOSSES)}")
    return LOSSES[name](pred, target, weights)
