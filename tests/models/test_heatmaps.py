import torch

from models.heatmaps import HeatmapCodec
from models.losses import heatmap_cross_entropy, heatmap_mse, pose_loss


def test_encode_decode_round_trip_is_sub_pixel():
    codec = HeatmapCodec(input_size=256, heatmap_size=64, sigma=2.0)
    g = torch.Generator().manual_seed(0)
    joints = torch.rand(8, 14, 2, generator=g) * 240 + 8
    heatmaps, weights = codec.encode(joints, torch.ones(8, 14, dtype=torch.bool))
    assert heatmaps.shape == (8, 14, 64, 64) and weights.shape == (8, 14)
    decoded, peak = codec.decode(heatmaps)
    assert (decoded - joints).norm(dim=-1).max() < 0.1
    assert (peak > 0.8).all()
    # Without the sub-pixel step the argmax alone would be off by up to 2 input pixels: the refinement matters.
    assert ((joints + 0.5) / 4 - 0.5 - ((joints + 0.5) / 4 - 0.5).round()).abs().max() > 0.3


def test_invisible_and_outside_joints_get_zero_weight():
    codec = HeatmapCodec(64, 16, 1.0)
    joints = torch.tensor([[[10.0, 10.0], [20.0, 20.0], [200.0, 5.0]]])
    visible = torch.tensor([[True, False, True]])
    heatmaps, weights = codec.encode(joints, visible)
    assert weights.tolist() == [[1.0, 0.0, 0.0]]
    assert heatmaps[0, 1].abs().sum() == 0 and heatmaps[0, 0].max() > 0.5


def test_losses_are_minimal_at_the_target_and_ignore_unweighted_joints():
    codec = HeatmapCodec(64, 16, 1.0)
    joints = torch.rand(2, 3, 2) * 50 + 5
    target, weights = codec.encode(joints, torch.ones(2, 3, dtype=torch.bool))
    pred = target[:, None].repeat(1, 2, 1, 1, 1)
    assert heatmap_mse(pred, target, weights) == 0
    noisy = pred + 0.1 * torch.randn_like(pred)
    assert heatmap_mse(noisy, target, weights) > 0
    # CE: logits proportional to the log-target beat uniform logits.
    ce_good = heatmap_cross_entropy(torch.log(pred.clamp_min(1e-6)), target, weights)
    ce_flat = heatmap_cross_entropy(torch.zeros_like(pred), target, weights)
    assert ce_good < ce_flat
    # A zero-weight joint changes nothing, however wrong its prediction.
    weights[:, 2] = 0
    broken = pred.clone()
    broken[:, :, 2] = 100.0
    assert pose_loss("mse", broken, target, weights) == 0


def test_sub_pixel_decoding_holds_at_the_heatmap_border():
    """A peak in the first or last column/row still gets its sub-pixel offset (the old decoder dropped it:
    up to half a heatmap pixel, 2 input pixels at stride 4)."""
    codec = HeatmapCodec(input_size=64, heatmap_size=16, sigma=1.5)
    border = torch.tensor([[[-0.3, 7.0], [15.3, 7.0], [7.0, -0.4], [7.0, 15.2], [0.35, 15.4]]])  # heatmap px
    joints = codec.to_input(border)
    heatmaps, weights = codec.encode(joints, torch.ones(1, 5, dtype=torch.bool))
    assert weights.all()
    decoded, _ = codec.decode(heatmaps)
    assert (decoded - joints).norm(dim=-1).max() < 0.05
