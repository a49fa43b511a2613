"""predict_images maps crop predictions back to the photo with the package's pixel-centre convention."""

import numpy as np
import torch

from models.config import TrainConfig
from models.export import predict_images
from models.heatmaps import HeatmapCodec

SIZE = 64


class FixedHeatmaps(torch.nn.Module):
    """Whatever the image, heatmaps peaking at `joints` (input pixels): a network with a known answer."""

    def __init__(self, joints: torch.Tensor):
        super().__init__()
        codec = HeatmapCodec(SIZE, SIZE // 4, 1.5)
        heatmaps, _ = codec.encode(joints[None], torch.ones(1, 14, dtype=torch.bool))
        self.maps = heatmaps[0]

    def forward(self, x):
        return self.maps[None, None].expand(x.shape[0], 1, -1, -1, -1)


def test_photo_coordinates_follow_the_half_pixel_convention():
    crop_points = torch.tensor(np.random.default_rng(0).uniform(8, 56, (14, 2)), dtype=torch.float32)
    config = TrainConfig.from_dict(
        {"model": {"num_joints": 14, "input_size": SIZE}, "sigma": 1.5, "device": "cpu"}
    )
    photo = np.zeros((96, 128, 3), np.uint8)  # padded to 128 x 128 (top 16), resized by 1/2
    ((joints, _),) = predict_images(FixedHeatmaps(crop_points), config, [photo])
    # Resizing a side of 128 to 64 maps pixel centre q to (q + 0.5) * 64 / 128 - 0.5; invert it.
    expected = (crop_points.numpy() + 0.5) * 128 / SIZE - 0.5 - np.array([0, 16])
    np.testing.assert_allclose(joints, expected, atol=0.05)
