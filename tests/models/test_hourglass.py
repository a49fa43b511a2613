import pytest
import torch

from models.hourglass import HourglassConfig, StackedHourglass, count_parameters

CONFIGS = {
    "tiny-1stack": HourglassConfig(num_stacks=1, num_features=16, depth=2, num_joints=14, input_size=64),
    "tiny-3stack": HourglassConfig(num_stacks=3, num_features=8, depth=3, num_joints=5, input_size=96),
    "demo-1stack": HourglassConfig(num_stacks=1, num_features=64, depth=4, num_joints=14, input_size=128),
    "deep-2stack": HourglassConfig(num_stacks=2, num_features=32, depth=4, num_joints=16, input_size=64),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_forward_backward(name):
    """Every config: output shape, features shape, finite values, and every parameter receives a gradient."""
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    model = StackedHourglass(cfg)
    x = torch.rand(2, 3, cfg.input_size, cfg.input_size)
    heatmaps, features = model(x, return_features=True)
    side = cfg.input_size // 4
    assert heatmaps.shape == (2, cfg.num_stacks, cfg.num_joints, side, side)
    assert features.shape == (2, cfg.num_features, side, side)
    assert torch.isfinite(heatmaps).all()
    (heatmaps.square().mean() + features.mean()).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert unused == []
    assert torch.equal(model(x), model(x, return_features=True)[0])


def test_parameter_count_matches_authors_network():
    # Newell et al.'s 2-stack, 256-feature, 16-joint network: 6.57 M parameters (princeton-vl PyTorch port,
    # counting the parameters its forward pass uses).
    assert count_parameters(StackedHourglass(HourglassConfig())) == pytest.approx(6.57e6, rel=0.01)


def test_last_stack_has_no_reinjection_layers():
    model = StackedHourglass(
        HourglassConfig(num_stacks=3, num_features=8, depth=1, num_joints=4, input_size=32)
    )
    assert len(model.merge_features) == len(model.merge_heatmaps) == 2


def test_channels_last_gives_the_same_output():
    cfg = CONFIGS["tiny-1stack"]
    model = StackedHourglass(cfg).eval()
    x = torch.rand(2, 3, 64, 64)
    expected = model(x)
    model = model.to(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"input_size": 100}, "multiple of"), ({"num_stacks": 0}, "num_stacks"), ({"num_features": 7}, "even")],
)
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HourglassConfig(**kwargs)
