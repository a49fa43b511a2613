"""The record every reader yields, whatever the format it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sample:
    """One person in one image, in the common LSP-14 joint set.

    image: uint8 (H, W, 3) RGB · mask: bool (H, W) person pixels, or None where the format has none ·
    joints: float32 (14, 2) x, y in image pixels · visible: bool (14,) · id: stable across runs ·
    domain: "source" (synthetic) or "target" (real) · split: the dataset's split ("train", "val",
    "test" for SURREAL; "adapt", "val", "test" for targets) · source_file: where it was read from.
    """

    image: np.ndarray
    mask: np.ndarray | None
    joints: np.ndarray
    visible: np.ndarray
    id: str
    domain: str
    split: str = ""
    source_file: str = ""
