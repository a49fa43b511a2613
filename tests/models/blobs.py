"""An in-memory dataset with the loader's interface: coloured blobs drawn at the joints, quick to learn."""

from __future__ import annotations

import numpy as np

from data_pipeline.joints import LSP14, TORSO_PAIR

# One colour per joint so that the network can tell them apart.
COLOURS = (np.random.default_rng(1234).integers(64, 256, size=(len(LSP14), 3))).astype(np.uint8)


class BlobDataset:
    """`n` samples of `size`² images: dark background (domain-dependent brightness), a disk per visible joint.
    Every joint is labelled; the ones not drawn are the occluded ones (labelled, not visible)."""

    def __init__(self, n: int, size: int, seed: int = 0, background: int = 20, invisible_prob: float = 0.1):
        rng = np.random.default_rng(seed)
        self.size = size
        margin = max(3, size // 16)
        self.joints = rng.uniform(margin, size - 1 - margin, size=(n, len(LSP14), 2)).astype(np.float32)
        self.visible = rng.random((n, len(LSP14))) >= invisible_prob
        self.visible[:, list(TORSO_PAIR)] = True
        self.background = background
        self.noise_seed = seed
        self.epochs_seen: list[int] = []
        self.passes_seen: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self.joints)

    def set_epoch(self, epoch: int, pass_index: int = 0) -> None:
        self.epochs_seen.append(epoch)
        self.passes_seen.append((epoch, pass_index))

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.noise_seed, i])
        image = rng.integers(0, 10, size=(self.size, self.size, 3)).astype(np.uint8) + np.uint8(
            self.background
        )
        yy, xx = np.mgrid[: self.size, : self.size]
        radius = max(1.5, self.size / 40)
        for j in np.flatnonzero(self.visible[i]):
            x, y = self.joints[i, j]
            image[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = COLOURS[j]
        return {
            "image": image,
            "joints": self.joints[i].copy(),
            "labelled": np.ones(len(LSP14), dtype=bool),
            "visible": self.visible[i].copy(),
            "head_size": float("nan"),
            "index": i,
        }
