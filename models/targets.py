"""What a TrainConfig makes of heatmaps: its codec, the heatmap targets of a batch (which joints are
supervised) and the joints decoded from a network's maps. Training and evaluation read both through here."""

from __future__ import annotations

import torch

from models.config import TrainConfig
from models.heatmaps import HeatmapCodec


def heatmap_codec(config: TrainConfig) -> HeatmapCodec:
    """The codec of the config's network (input and heatmap sizes) and Gaussian width."""
    return HeatmapCodec(config.model.input_size, config.model.heatmap_size, config.sigma)


def supervised_mask(batch: dict, config: TrainConfig) -> torch.Tensor:
    """The joints that get a heatmap target: every labelled one (occluded, or under a synthetic occluder,
    included: Sárándi et al. 2018), or with `supervise: visible` only the unoccluded ones (the old
    behaviour, kept for ablation)."""
    return batch["labelled"] if config.supervise == "labelled" else batch["visible"]


def heatmap_targets(
    codec: HeatmapCodec, batch: dict, config: TrainConfig, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(B, J, H, W)` target maps and `(B, J)` joint weights of a collated batch, on `device`."""
    return codec.encode(
        batch["joints"].to(device, non_blocking=True),
        supervised_mask(batch, config).to(device, non_blocking=True),
    )


def decode_predictions(heatmaps: torch.Tensor, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Last stack's `(B, J, H, W)` maps -> `(B, J, 2)` input-pixel joints (sub-pixel) and peak confidences."""
    maps = heatmaps.float()
    if config.loss == "ce":  # logits: decode the per-map pixel distribution
        maps = torch.softmax(maps.flatten(-2), dim=-1).view_as(maps)
    return heatmap_codec(config).decode(maps)
