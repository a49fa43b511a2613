"""Label-free model-selection scores: computed every validation epoch, none reads a target label.

Users adapting to their own photos usually have no keypoint labels for them, so a search must be able to
choose trials and epochs without target labels. The scores here are the domain-adaptation literature's
label-free validators, transposed to heatmaps (names in models.metric_names, which also gives each one's
better direction):

- **DEV**, Deep Embedded Validation (You et al., "Towards Accurate Model Selection in Deep Unsupervised
  Domain Adaptation", ICML 2019, Algorithm 1): the source-validation per-image pose loss weighted by the
  target/source density ratio of the image's features, with DEV's control variate (`dev_risk`). The
  density ratio comes from the trial's own domain classifier when it has one, else from a small logistic
  regression fitted here on the pooled features (`probe_source_probability`), whose held-out accuracy is
  also reported (how separable the two domains' features are).
- **Flip consistency**: agreement between the prediction on a target-val image and the mirrored
  prediction on its mirrored copy, left/right joints swapped; **jitter consistency**: the same under a
  small rotation/scale/shift, the prediction mapped back (`agreement`). Normalised by the *image side*,
  not a torso (there is no labelled torso; a predicted one collapses with the prediction): a joint agrees
  when the two predictions are within AGREE_FRACTION × the input side, which is about PDJ@0.2 of a typical
  torso in posetune's person crops (torso ≈ 0.25 × the crop side).
- **Peak confidence** and **entropy** of each joint's spatial distribution (`spatial_stats`), known to be
  miscalibrated for heatmaps (Gu et al., ICML 2024): measured, not trusted.

Everything is torch (no Ray) and deterministic: the jitters are drawn from a fixed seed per image index,
the logistic regression is Newton's method in float64 with a 2-fold cross-fit by index.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from data_pipeline.joints import FLIP_PERMUTATION, SHARED_JOINTS
from models import metric_names as names
from models.losses import pose_loss

AGREE_FRACTION = 0.05  # two predictions of a joint agree within this fraction of the input side
JITTER_SEED = 22  # the jitter of the i-th image of a split: default_rng([JITTER_SEED, i])
JITTER_ROTATION_DEG = 10.0  # rotation drawn in [-r, r]
JITTER_SCALE = (0.9, 1.1)  # zoom drawn in [low, high]
JITTER_SHIFT = 0.05  # shift per axis drawn in [-s, s] x the input side
PROBE_L2 = 0.1  # ridge penalty of the logistic-regression probe, on standardised features
PROBE_STEPS = 50  # at most this many Newton steps per probe fit
RATIO_CLIP = 1e-6  # domain probabilities clipped to [c, 1 - c] before the density ratio


# ---------------------------------------------------------------------------------------------- per image


def per_image_loss(
    loss: str, heatmaps: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """The training pose loss (models.losses) of each image alone: `(B, stacks, J, H, W)` heatmaps,
    `(B, J, H, W)` targets and `(B, J)` weights -> `(B,)`; 0 for an image with no supervised joint."""
    return torch.stack(
        [
            pose_loss(loss, heatmaps[i : i + 1], target[i : i + 1], weights[i : i + 1])
            for i in range(len(heatmaps))
        ]
    ).float()


def pooled_features(features: torch.Tensor) -> torch.Tensor:
    """`(B, C, H, W)` network features -> `(B, C)` float, global average pooled (what the probe sees)."""
    return features.float().mean(dim=(-2, -1))


def spatial_stats(maps: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Each joint map's spatial distribution: its peak probability and its entropy over the H·W cells
    normalised by log(H·W) (0: one cell, 1: uniform). `maps` `(B, J, H, W)` last-stack outputs -> two
    `(B, J)` tensors.

    The distribution is the one the loss trains: the spatial softmax of the logits for `ce`; for `mse`,
    whose maps are unnormalised Gaussians, the map clamped at 0 and normalised to sum 1 (uniform where it
    is all <= 0)."""
    flat = maps.float().flatten(-2)
    if loss == "ce":
        p = torch.softmax(flat, dim=-1)
    else:
        positive = flat.clamp_min(0)
        total = positive.sum(dim=-1, keepdim=True)
        p = torch.where(
            total > 0, positive / total.clamp_min(1e-12), torch.full_like(flat, 1.0 / flat.shape[-1])
        )
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1) / math.log(flat.shape[-1])
    return p.max(dim=-1).values, entropy


# ---------------------------------------------------------------------------------------------- views


def flip_images(x: torch.Tensor) -> torch.Tensor:
    """`(B, 3, S, S)` images mirrored left-right."""
    return torch.flip(x, dims=[-1])


def unflip_joints(joints: torch.Tensor, size: int) -> torch.Tensor:
    """Predictions `(B, J, 2)` made on mirrored images, in the original image's frame: x -> S - 1 - x
    (pixel centres at integers) and each left joint swapped with its right twin (data_pipeline.joints)."""
    out = joints[:, torch.tensor(FLIP_PERMUTATION.tolist(), device=joints.device)].clone()
    out[..., 0] = (size - 1) - out[..., 0]
    return out


def jitter_thetas(indices: np.ndarray) -> torch.Tensor:
    """`(N, 2, 3)` affine_grid matrices of the jitter of images `indices` (their positions in the split):
    output normalised coordinates -> input normalised coordinates, one small rotation, zoom and shift each,
    drawn from default_rng([JITTER_SEED, index]), so every trial and epoch sees the same jitters."""
    thetas = []
    for index in np.asarray(indices, dtype=np.int64):
        rng = np.random.default_rng([JITTER_SEED, int(index)])
        angle = math.radians(rng.uniform(-JITTER_ROTATION_DEG, JITTER_ROTATION_DEG))
        zoom = rng.uniform(*JITTER_SCALE)
        tx, ty = rng.uniform(-JITTER_SHIFT, JITTER_SHIFT, size=2) * 2.0  # normalised coordinates span 2
        c, s = math.cos(angle) / zoom, math.sin(angle) / zoom
        thetas.append([[c, -s, tx], [s, c, ty]])
    return torch.tensor(thetas, dtype=torch.float32).reshape(-1, 2, 3)


def jitter_images(x: torch.Tensor, thetas: torch.Tensor) -> torch.Tensor:
    """`(B, 3, S, S)` images resampled through `thetas` (bilinear, black outside the image)."""
    grid = F.affine_grid(thetas.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def unjitter_joints(joints: torch.Tensor, thetas: torch.Tensor, size: int) -> torch.Tensor:
    """Predictions `(B, J, 2)` in jittered-image pixels mapped back to the original image's pixels."""
    u = (2.0 * joints.float() + 1.0) / size - 1.0  # pixel centres -> normalised (align_corners=False)
    thetas = thetas.to(joints.device, torch.float32)
    back = u @ thetas[:, :, :2].transpose(1, 2) + thetas[:, None, :, 2]
    return ((back + 1.0) * size - 1.0) / 2.0


def agreement(a: np.ndarray, b: np.ndarray, size: int, fraction: float = AGREE_FRACTION) -> np.ndarray:
    """Per image, the fraction of the shared joints whose two predictions `(N, J, 2)` lie within
    `fraction` × the input side of each other -> `(N,)`."""
    shared = list(SHARED_JOINTS)
    distance = np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)[:, shared]
    return (distance < fraction * size).mean(axis=1)


class SplitCollector:
    """Gathers one evaluated split's label-free inputs batch by batch, inside `models.evaluation.run_eval`'s
    forward passes: per-image pose loss and pooled features always (cheap: what the pass computed
    anyway); with `views`, also the peak/entropy of the last stack and one extra forward pass per batch
    in which even-indexed images are mirrored and odd-indexed ones jittered (half the images per
    consistency score, one extra pass rather than two).

    `forward(x)` returns the network's `(B, stacks, J, H, W)` heatmaps; `decode(maps)` the `(B, J, 2)`
    sub-pixel joints of last-stack maps."""

    def __init__(self, loss: str, size: int, views: bool, forward: Callable, decode: Callable):
        self.loss, self.size, self.views, self.forward, self.decode = loss, int(size), views, forward, decode
        self.seen = 0
        self.parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("image_loss", "features", "peak", "entropy", "flip", "jitter")
        }

    def add(self, x, heatmaps, features, target, weights, pred) -> None:
        """One batch: images `x` as the network saw them, its outputs, the pose targets and the decoded
        joints `pred` (the target's joints and weights feed only the per-image loss, which DEV reads on
        the *source* split alone)."""
        b = len(x)
        self.parts["image_loss"].append(per_image_loss(self.loss, heatmaps, target, weights).cpu().numpy())
        self.parts["features"].append(pooled_features(features).cpu().numpy())
        if self.views:
            peak, entropy = spatial_stats(heatmaps[:, -1], self.loss)
            self.parts["peak"].append(peak[:, list(SHARED_JOINTS)].mean(dim=1).cpu().numpy())
            self.parts["entropy"].append(entropy[:, list(SHARED_JOINTS)].mean(dim=1).cpu().numpy())
            index = np.arange(self.seen, self.seen + b)
            flipped, jittered = index % 2 == 0, index % 2 == 1
            thetas = jitter_thetas(index[jittered])
            f = torch.as_tensor(flipped, device=x.device)
            j = torch.as_tensor(jittered, device=x.device)
            views = torch.empty_like(x)
            views[f] = flip_images(x[f])
            views[j] = jitter_images(x[j], thetas)
            back = self.decode(self.forward(views)[:, -1]).float().cpu()
            pred = torch.as_tensor(pred).float().cpu()
            f, j = f.cpu(), j.cpu()
            if f.any():
                mapped = unflip_joints(back[f], self.size)
                self.parts["flip"].append(agreement(pred[f].numpy(), mapped.numpy(), self.size))
            if j.any():
                mapped = unjitter_joints(back[j], thetas, self.size)
                self.parts["jitter"].append(agreement(pred[j].numpy(), mapped.numpy(), self.size))
        self.seen += b

    def result(self) -> dict[str, np.ndarray]:
        """Per-image arrays: image_loss `(N,)`, features `(N, C)`, and with views peak, entropy `(N,)`,
        flip `(≈N/2,)`, jitter `(≈N/2,)`."""
        return {k: np.concatenate(v) for k, v in self.parts.items() if v}


def split_scores(collected: dict[str, np.ndarray], prefix: str) -> dict[str, float]:
    """The label-free scores of one split with views (flip/jitter agreement, peak, entropy), under `prefix`."""
    keys = {
        "flip": names.FLIP_AGREE,
        "jitter": names.JITTER_AGREE,
        "peak": names.PEAK_CONF,
        "entropy": names.ENTROPY,
    }
    return {prefix + name: float(np.mean(collected[k])) for k, name in keys.items() if k in collected}


# ---------------------------------------------------------------------------------------------- domain


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, l2: float, steps: int) -> torch.Tensor:
    """Weights `(C + 1,)` (bias last) of a ridge logistic regression, minimising mean BCE + l2/2 ‖w‖² (bias
    unpenalised), by Newton's method (IRLS) from zero in float64: the objective is strictly convex, so a
    few dozen steps converge; deterministic, well under a millisecond per step for hundreds of images."""
    xb = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    n, d = xb.shape
    ridge = torch.full((d,), l2, dtype=x.dtype)
    ridge[-1] = 1e-8
    w = torch.zeros(d, dtype=x.dtype)
    for _ in range(steps):
        p = torch.sigmoid(xb @ w)
        gradient = xb.T @ (p - y) / n + ridge * w
        hessian = (xb.T * (p * (1 - p))) @ xb / n + torch.diag(ridge)
        step = torch.linalg.solve(hessian, gradient)
        w = w - step
        if float(step.abs().max()) < 1e-10:
            break
    return w


def probe_source_probability(
    source: np.ndarray, target: np.ndarray, l2: float = PROBE_L2, steps: int = PROBE_STEPS
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out P(source | features) of every source and every target image from a logistic-regression
    probe on `(N_s, C)` and `(N_t, C)` pooled features, cross-fitted over two folds (images of even index
    in their split against odd, then the reverse), so no image is scored by a probe that saw it. Features
    are standardised with the training fold's mean and std. -> (`(N_s,)`, `(N_t,)`)."""
    feats = torch.as_tensor(np.concatenate([source, target]), dtype=torch.float64)
    labels = torch.cat([torch.ones(len(source)), torch.zeros(len(target))]).double()
    fold = torch.as_tensor(np.concatenate([np.arange(len(source)) % 2, np.arange(len(target)) % 2]))
    prob = torch.full((len(feats),), 0.5, dtype=torch.float64)
    for held in (0, 1):
        train, test = fold != held, fold == held
        if not test.any() or labels[train].unique().numel() < 2:
            continue
        mean, std = feats[train].mean(0), feats[train].std(0, unbiased=False).clamp_min(1e-6)
        w = _fit_logistic((feats[train] - mean) / std, labels[train], l2, steps)
        z = (feats[test] - mean) / std
        prob[test] = torch.sigmoid(z @ w[:-1] + w[-1])
    prob = prob.numpy()
    return prob[: len(source)], prob[len(source) :]


def density_ratio(p_source: np.ndarray, prior_ratio: float) -> np.ndarray:
    """w(x) = p_target(x) / p_source(x) = prior_ratio · P(target | x) / P(source | x) (Bayes; You et al.
    2019 eq. 5 with prior_ratio = N_s / N_t, the classifier's training proportions)."""
    p = np.clip(np.asarray(p_source, dtype=np.float64), RATIO_CLIP, 1.0 - RATIO_CLIP)
    return prior_ratio * (1.0 - p) / p


def dev_risk(loss: np.ndarray, weight: np.ndarray) -> float:
    """Deep Embedded Validation's target-risk estimate (You et al. 2019, Algorithm 1): with the weighted
    losses L = w ⊙ ℓ over the source-validation images, η = −Cov(L, w) / Var(w) and
    DEV = mean(L) + η · mean(w) − η. The control variate uses E[w] = 1 under the source distribution to
    cancel part of the importance weights' variance. Lower is better (a loss); nan without images."""
    loss, weight = np.asarray(loss, np.float64), np.asarray(weight, np.float64)
    if len(loss) == 0:
        return float("nan")
    weighted = weight * loss
    var = float(np.var(weight, ddof=1)) if len(weight) > 1 else 0.0
    eta = -float(np.cov(weighted, weight, ddof=1)[0, 1]) / var if var > 0 else 0.0
    return float(weighted.mean() + eta * weight.mean() - eta)


def cross_split_scores(
    source: dict[str, np.ndarray],
    target: dict[str, np.ndarray],
    source_logits: np.ndarray | None = None,
) -> dict[str, float]:
    """DEV and the probe's domain accuracy from one source-val and one target-val `SplitCollector.result()`.

    `source_logits` are the trial's own domain classifier's logits on the source-val images (> 0: source),
    when it has one: trained on equal source and target batch sizes, so its density ratio is
    exp(−logit) (prior ratio 1). Otherwise the probe's held-out probabilities give the ratio, with the
    probe's own proportions as prior ratio."""
    p_source, p_target = probe_source_probability(source["features"], target["features"])
    hits = np.concatenate([p_source > 0.5, p_target <= 0.5])
    if source_logits is not None:
        weight = density_ratio(1.0 / (1.0 + np.exp(-np.asarray(source_logits, np.float64))), 1.0)
    else:
        weight = density_ratio(p_source, len(p_source) / max(len(p_target), 1))
    return {
        names.DEV: dev_risk(source["image_loss"], weight),
        names.DOMAIN_PROBE_ACC: float(hits.mean()),
    }
