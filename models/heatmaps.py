"""Joints <-> Gaussian heatmaps, batched in torch (one codec object, as mmpose's codecs).

Coordinates: pixel centres sit at integer positions in both the input image and the heatmap, so an
input pixel x maps to heatmap position (x + 0.5)·r − 0.5 with r = heatmap_size / input_size (the
heatmap pixel k covers input pixels [k/r, (k+1)/r)).
"""

from __future__ import annotations

import torch


class HeatmapCodec:
    """Encode joints to unnormalised Gaussians of std `sigma` (heatmap px); decode with sub-pixel refinement."""

    def __init__(self, input_size: int, heatmap_size: int, sigma: float = 2.0):
        if sigma <= 0:
            raise ValueError(f"heatmap sigma must be > 0, got {sigma}")
        self.input_size = int(input_size)
        self.heatmap_size = int(heatmap_size)
        self.sigma = float(sigma)
        self.ratio = self.heatmap_size / self.input_size

    def to_heatmap(self, joints: torch.Tensor) -> torch.Tensor:
        return (joints + 0.5) * self.ratio - 0.5

    def to_input(self, points: torch.Tensor) -> torch.Tensor:
        return (points + 0.5) / self.ratio - 0.5

    def encode(self, joints: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, J, 2)` x,y input pixels and `(B, J)` visibility -> `(B, J, H, H)` heatmaps and `(B, J)` weights.

        G(u, v) = exp(−((u − μx)² + (v − μy)²) / 2σ²) centred at the exact (non-integer) joint position, so
        the decoder can recover it. A joint gets weight 0 when it is invisible or its centre lies outside the
        heatmap (nothing there to learn).
        """
        joints = joints.float()
        centre = self.to_heatmap(joints)
        h = self.heatmap_size
        grid = torch.arange(h, dtype=torch.float32, device=joints.device)
        gx = torch.exp(-((grid - centre[..., 0:1]) ** 2) / (2 * self.sigma**2))  # (B, J, W)
        gy = torch.exp(-((grid - centre[..., 1:2]) ** 2) / (2 * self.sigma**2))  # (B, J, H)
        heatmaps = gy[..., :, None] * gx[..., None, :]
        inside = ((centre >= -0.5) & (centre <= h - 0.5)).all(dim=-1)
        weights = (visible.to(joints.device).bool() & inside).float()
        return heatmaps * weights[..., None, None], weights

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, J, H, W)` heatmaps -> `(B, J, 2)` x,y input pixels and `(B, J)` peak values.

        Argmax, then one Newton step on the log-heatmap per axis (the Taylor expansion of Zhang et al.,
        "Distribution-Aware Coordinate Representation", 2020, eq. 4 with a diagonal Hessian): for a Gaussian
        the log is exactly quadratic, so central differences recover the centre exactly. The offset is
        clamped to half a pixel and dropped at the border or where the peak is not a local maximum.
        """
        b, j, h, w = heatmaps.shape
        flat = heatmaps.detach().float().reshape(b, j, h * w)
        peak, index = flat.max(dim=-1)
        x, y = index % w, torch.div(index, w, rounding_mode="floor")
        log = torch.log(heatmaps.detach().float().clamp_min(1e-10))

        def offset(values_minus, values_centre, values_plus, valid):
            second = values_plus - 2 * values_centre + values_minus
            ok = valid & (second < 0)
            step = -0.5 * (values_plus - values_minus) / torch.where(ok, second, torch.ones_like(second))
            return torch.where(ok, step.clamp(-0.5, 0.5), torch.zeros_like(step))

        def at(xx, yy):
            xx, yy = xx.clamp(0, w - 1), yy.clamp(0, h - 1)
            return log.reshape(b, j, h * w).gather(-1, (yy * w + xx)[..., None]).squeeze(-1)

        centre = at(x, y)
        dx = offset(at(x - 1, y), centre, at(x + 1, y), (x > 0) & (x < w - 1))
        dy = offset(at(x, y - 1), centre, at(x, y + 1), (y > 0) & (y < h - 1))
        points = torch.stack([x.float() + dx, y.float() + dy], dim=-1)
        return self.to_input(points), peak
