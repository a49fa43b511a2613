"""The trial-like child process of `python -m bench.shard_memory`, in a module of its own so that its memory
holds what a trial's does (torch, numpy, the shard loader) and nothing the parent imports:

    python -m bench.shard_memory_child ROOT MODE CACHE     # MODE: baseline, private or mapped
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch  # noqa: F401  (a trial imports torch: part of its baseline)

from data_pipeline.loader import AugmentConfig, ShardDataset


def child(root: str, mode: str, cache: str) -> None:
    """One trial-like process: open the split, touch every page of its image bytes, decode items, wait."""
    if mode != "baseline":
        dataset = ShardDataset(
            root,
            "source",
            "train",
            256,
            AugmentConfig(occlusion_prob=0.3),
            cache_dir=None if mode == "private" else cache,
        )
        data = dataset._images.buffers()[-1]
        touched = int(np.frombuffer(data, dtype=np.uint8)[::4096].sum())
        for i in range(0, len(dataset), max(1, len(dataset) // 200)):
            dataset[i]
        print(json.dumps({"rows": len(dataset), "image_bytes": data.size, "touched": touched}), flush=True)
    else:
        print(json.dumps({}), flush=True)
    sys.stdin.read()  # hold the memory until the parent has measured


if __name__ == "__main__":
    child(*sys.argv[1:4])
