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

    def encode(self, joints: torch.Tensor, supervised: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, J, 2)` x,y input pixels and `(B, J)` bool mask -> `(B, J, H, H)` heatmaps and `(B, J)` weights.

        G(u, v) = exp(−((u − μx)² + (v − μy)²) / 2σ²) centred at the exact (non-integer) joint position, so
        the decoder can recover it. A joint gets weight 0 when `supervised` is False for it (normally: not
        labelled) or its centre lies outside the heatmap (nothing there to learn).
        """
        joints = joints.float()
        centre = self.to_heatmap(joints)
        h = self.heatmap_size
        grid = torch.arange(h, dtype=torch.float32, device=joints.device)
        gx = torch.exp(-((grid - centre[..., 0:1]) ** 2) / (2 * self.sigma**2))  # (B, J, W)
        gy = torch.exp(-((grid - centre[..., 1:2]) ** 2) / (2 * self.sigma**2))  # (B, J, H)
        heatmaps = gy[..., :, None] * gx[..., None, :]
        inside = ((centre >= -0.5) & (centre <= h - 0.5)).all(dim=-1)
        weights = (supervised.to(joints.device).bool() & inside).float()
        return heatmaps * weights[..., None, None], weights

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, J, H, W)` heatmaps -> `(B, J, 2)` x,y input pixels and `(B, J)` peak values.

        Argmax, then one Newton step on the log-heatmap per axis (the Taylor expansion of Zhang et al.,
        "Distribution-Aware Coordinate Representation", 2020, eq. 4 with a diagonal Hessian): for a Gaussian
        the log is exactly quadratic, so a parabola through three neighbouring samples recovers the centre
        exactly. At the border the three samples are the argmax and its two inner neighbours (the parabola is
        the same). The offset from the argmax is clamped to half a pixel and dropped where the samples are
        not concave.
        """
        b, j, h, w = heatmaps.shape
        peak, x, y = self._argmax(heatmaps)
        log = torch.log(heatmaps.detach().float().clamp_min(1e-10))

        def at(xx, yy):
            return log.reshape(b, j, h * w).gather(-1, (yy * w + xx)[..., None]).squeeze(-1)

        def offset(argmax, size, sample):
            """Vertex of the parabola through the samples at m-1, m, m+1 (m: the argmax moved inside by one
            at the border), as an offset from the argmax."""
            if size < 3:
                return torch.zeros_like(argmax, dtype=torch.float32)
            m = argmax.clamp(1, size - 2)
            minus, centre, plus = sample(m - 1), sample(m), sample(m + 1)
            second = plus - 2 * centre + minus
            ok = second < 0
            vertex = m.float() - 0.5 * (plus - minus) / torch.where(ok, second, torch.ones_like(second))
            return torch.where(ok, (vertex - argmax.float()).clamp(-0.5, 0.5), torch.zeros_like(second))

        dx = offset(x, w, lambda xx: at(xx, y))
        dy = offset(y, h, lambda yy: at(x, yy))
        points = torch.stack([x.float() + dx, y.float() + dy], dim=-1)
        return self.to_input(points), peak

    def argmax_cells(self, heatmaps: torch.Tensor) -> torch.Tensor:
        """`(B, J, H, W)` heatmaps -> `(B, J, 2)` x,y of each map's argmax cell (heatmap pixels, integers):
        the prediction tllib's published PCK scores."""
        _, x, y = self._argmax(heatmaps)
        return torch.stack([x, y], dim=-1)

    @staticmethod
    def _argmax(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, j, h, w = heatmaps.shape
        peak, index = heatmaps.detach().float().reshape(b, j, h * w).max(dim=-1)
        return peak, index % w, torch.div(index, w, rounding_mode="floor")
