"""Domain-adversarial training (Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016).

A gradient-reversal layer sits between the pose network and a domain classifier: the classifier learns to
tell synthetic (source) from real (target) inputs while the reversed gradient pushes the pose network to
make them indistinguishable. The reversal strength λ is an explicit argument everywhere (no hidden step
counter), computed by the caller from training progress with `dann_lambda`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GradientReverse(torch.autograd.Function):
    """Identity in the forward pass; multiplies the incoming gradient by −coeff in the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = float(coeff)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_output.neg() * ctx.coeff, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Gradient reversal R_λ of Ganin et al. (eq. 13): R(x) = x, dR/dx = −λ I."""
    return GradientReverse.apply(x, coeff)


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """λ_p = 2 / (1 + exp(−γ p)) − 1 with γ = 10 (Ganin et al. 2016, sec. 5.2.2): 0 at p = 0, → 1 at p = 1.

    Ramping λ up keeps the noisy early domain signal from disturbing the pose features.
    """
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def domain_input(heatmaps: torch.Tensor, features: torch.Tensor, attach: str) -> torch.Tensor:
    """What the domain classifier sees of one forward pass: with `attach="heatmaps"` the sum of every
    stack's `(B, stacks, J, H, W)` heatmaps (as the study fed it, so all stacks receive the signal), else
    the last stack's features."""
    return heatmaps.sum(dim=1) if attach == "heatmaps" else features


class DomainClassifier(nn.Module):
    """Predicts the domain (one logit, > 0 means source) of a `(B, C, H, W)` map.

    attach="heatmaps" (the study's choice): blocks of BN-ReLU-1x1 conv-2x2 max-pool shrink the heatmaps
    (C = num_joints), a pool to 2x2 flattens them to 4·width values, then an FC stack as in the study
    (width·4 -> 64 -> 16 -> 1). attach="features": the last stack's features (C = num_features) are
    global-average-pooled, then an FC-BN-ReLU stack (as tllib's DomainDiscriminator). No ReLU on the logit
    (the study's ReLU on logits left dead outputs).

    Shape:
        - x: `(B, C, H, W)`
        - output: `(B,)` logits
    """

    def __init__(self, in_channels: int, attach: str = "heatmaps", width: int = 64, num_blocks: int = 3):
        super().__init__()
        if attach not in ("heatmaps", "features"):
            raise ValueError(f"DomainClassifier attach must be 'heatmaps' or 'features', got {attach!r}")
        self.attach = attach
        if attach == "heatmaps":
            blocks: list[nn.Module] = []
            channels = in_channels
            for _ in range(num_blocks):
                blocks += [
                    nn.BatchNorm2d(channels),
                    nn.ReLU(),
                    nn.Conv2d(channels, width, 1),
                    nn.MaxPool2d(2),
                ]
                channels = width
            self.body = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(2), nn.Flatten())
            flat = 4 * width
        else:
            self.body = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            flat = in_channels
        self.head = nn.Sequential(
            nn.Linear(flat, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.Linear(64, 16),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class DomainAdversarialLoss(nn.Module):
    """Binary cross-entropy of the domain classifier behind a gradient-reversal layer of strength λ.

    Source and target inputs are concatenated into one classifier batch so that the classifier's BatchNorm
    normalises both domains with the *same* batch statistics: two single-domain batches would each be
    centred on their own mean, erasing exactly the domain difference the classifier must see (and giving
    the pose network a trivially domain-specific normalisation, a defect of the original study's code).

    Args:
        classifier: maps `(B, C, H, W)` to `(B,)` domain logits.

    Shape:
        - f_s: `(B_s, C, H, W)` source maps (heatmaps or features)
        - f_t: `(B_t, C, H, W)` target maps
        - coeff: λ, a float
        - output: scalar loss; `self.last_accuracy` holds the classifier's accuracy on this batch
    """

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.last_accuracy: float = float("nan")

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor, coeff: float) -> torch.Tensor:
        logits = self.classifier(grad_reverse(torch.cat([f_s, f_t], dim=0), coeff)).float()
        labels = torch.cat([logits.new_ones(f_s.shape[0]), logits.new_zeros(f_t.shape[0])])
        with torch.no_grad():
            self.last_accuracy = float(((logits > 0).float() == labels).float().mean())
        return F.binary_cross_entropy_with_logits(logits, labels)
