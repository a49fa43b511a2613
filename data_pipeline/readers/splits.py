"""Target splits: which real images adapt the network (unlabelled use), select models (val) and report (test).

LSP ships a split file or uses default_splits; COCO and MPII images are split here by a seeded permutation
(half adapt, a quarter val, a quarter test, as LSP's default), or by an explicit split file. An image a
split file leaves out belongs to no split: the enhancement job reports it and does not write it.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable

import numpy as np

from data_pipeline.errors import DataError
from data_pipeline.readers._json import load_json

TARGET_SPLITS = ("adapt", "val", "test")
TARGET_FRACTIONS = (0.5, 0.25, 0.25)
UNASSIGNED = ""  # the split of an image that a split file leaves out


def seeded_splits(keys: Iterable[Hashable], seed: int = 0) -> dict[Hashable, str]:
    """Each distinct key (an image id or name: all people of one image share its split) to adapt/val/test,
    by a permutation of the sorted keys drawn with `seed`, cut at TARGET_FRACTIONS. Deterministic."""
    ordered = sorted(set(keys), key=str)
    order = np.random.default_rng(seed).permutation(len(ordered))
    cuts = np.floor(np.cumsum(TARGET_FRACTIONS)[:-1] * len(ordered)).astype(int)
    names = np.searchsorted(cuts, np.arange(len(ordered)), side="right")
    return {ordered[k]: TARGET_SPLITS[names[rank]] for rank, k in enumerate(order)}


def read_split_file(path: str | os.PathLike) -> dict[str, list]:
    """{"adapt": [ids], "val": [ids], "test": [ids]} from JSON; DataError naming the file otherwise."""
    splits = load_json(path, "split file")
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
        raise DataError(path, 'expected {"adapt": [ids], "val": [ids], "test": [ids]}')
    unknown = sorted(set(splits) - set(TARGET_SPLITS))
    if unknown:
        raise DataError(path, f"unknown split name(s) {unknown}; the splits are {list(TARGET_SPLITS)}")
    return splits
