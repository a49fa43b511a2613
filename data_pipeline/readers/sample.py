"""The record every reader yields, whatever the format it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sample:
    """One person in one image, in the common LSP-14 joint set.

    image: uint8 (H, W, 3) RGB · mask: bool (H, W) person pixels, or None where the format has none ·
    joints: float32 (14, 2) x, y in image pixels · labelled: bool (14,), a position exists in the
    annotation (occluded or not) · visible: bool (14,), labelled and not occluded (visible implies
    labelled; what "occluded" can mean depends on the format, see each reader) · id: stable across runs ·
    domain: "source" (synthetic) or "target" (real) · split: the dataset's split ("train", "val",
    "test" for SURREAL; "adapt", "val", "test" for targets) · source_file: where it was read from ·
    head_size: the PCKh normaliser in image pixels (MPII: 0.6 x the head box's diagonal), else None.
    """

    image: np.ndarray
    mask: np.ndarray | None
    joints: np.ndarray
    labelled: np.ndarray
    visible: np.ndarray
    id: str
    domain: str
    split: str = ""
    source_file: str = ""
    head_size: float | None = None

    def __post_init__(self) -> None:
        self.labelled = np.asarray(self.labelled, dtype=bool)
        self.visible = np.asarray(self.visible, dtype=bool) & self.labelled
