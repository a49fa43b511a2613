"""The batches `fit` reads: `TrainData` (the four splits), the replayable per-epoch batch sampler, and the
training and evaluation DataLoaders built over them.

Training batches are drawn from per-(seed, stream, epoch, pass) shuffles, so a resumed run replays exactly
the batches of an uninterrupted one; evaluation reads a fixed, seeded subset in a fixed order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from data_pipeline.loader import before_forking_workers, seeded_subset, worker_init
from models.config import TrainConfig
from models.runtime import Runtime

EVAL_SUBSET_SEED = 0  # max_eval_samples draws the same random subset in every trial and epoch


@dataclass
class TrainData:
    """The four splits `fit` reads; each a map-style dataset of {"image", "joints", "labelled", "visible",
    "head_size", ...} dicts (data_pipeline.loader.ShardDataset's items)."""

    source_train: Dataset  # labelled, augmented
    source_val: Dataset  # labelled, augment=None
    target_val: Dataset  # labelled real-looking images, augment=None: the model-selection split
    target_adapt: Dataset | None = None  # unlabelled target images (domain classifier, BatchNorm arms)


def collate(samples: list[dict]) -> dict:
    """Stack only what training needs (datasets may carry ids, masks and other extras)."""

    def stack(key: str, dtype) -> torch.Tensor:
        return torch.from_numpy(np.stack([np.asarray(s[key], dtype=dtype) for s in samples]))

    head_size = [s.get("head_size", np.nan) for s in samples]
    return {
        "image": stack("image", np.uint8),
        "joints": stack("joints", np.float32),
        "labelled": stack("labelled", bool),
        "visible": stack("visible", bool),
        "head_size": torch.tensor(np.asarray(head_size, dtype=np.float32)),
    }


def _stream_seed(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> 1)


class EpochBatches(Sampler):
    """`steps` shuffled batches of `(epoch, pass, index)` keys for the epoch set by `set_epoch`.

    Pass k of epoch e over the data shuffles with seed (seed, stream, e, k) and draws pass k's augmentations
    (a second pass is not a copy of the first), so every epoch is replayable. The epoch travels inside the
    keys because persistent workers keep their own copy of the dataset: setting it in the main process
    would not reach them.
    """

    def __init__(self, size: int, batch_size: int, steps: int, seed: int, stream: int):
        self.size, self.batch_size, self.steps = size, min(batch_size, size), steps
        self.seed, self.stream, self.epoch = seed, stream, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        done, per_pass = 0, self.size // self.batch_size
        for k in itertools.count():
            generator = torch.Generator().manual_seed(_stream_seed(self.seed, self.stream, self.epoch, k))
            order = torch.randperm(self.size, generator=generator).tolist()
            for b in range(per_pass):
                if done == self.steps:
                    return
                yield [(self.epoch, k, i) for i in order[b * self.batch_size : (b + 1) * self.batch_size]]
                done += 1


class _Keyed(Dataset):
    """`dataset` read by `(epoch, pass, index)` keys: the process that reads an item selects its stream."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int, int]) -> dict:
        epoch, pass_index, i = key
        set_epoch(self.dataset, epoch, pass_index)
        return self.dataset[i]


def set_epoch(dataset: Dataset | None, epoch: int, pass_index: int = 0) -> None:
    """Select the epoch (and pass) whose augmentations `dataset` draws, where it draws any."""
    if dataset is not None and hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch, pass_index)


def _loader_options(config: TrainConfig) -> dict:
    """Workers forked once and kept across epochs, one OpenCV thread each; pinned host memory on CUDA, so
    that the `non_blocking` copies to the device really overlap with compute."""
    workers = config.num_workers
    if workers > 0:
        before_forking_workers()
    return {
        "num_workers": workers,
        "persistent_workers": workers > 0,
        "worker_init_fn": worker_init if workers > 0 else None,
        "pin_memory": Runtime.from_config(config).device.type == "cuda",
        "collate_fn": collate,
    }


def train_loader(
    dataset: Dataset, config: TrainConfig, *, batch_size: int, steps: int, stream: int
) -> DataLoader:
    """The training batches of one data stream for a whole fit: call `.batch_sampler.set_epoch(e)`, then
    iterate it once per epoch (`steps` batches); its workers live as long as the loader."""
    sampler = EpochBatches(len(dataset), batch_size, steps, config.seed, stream)
    return DataLoader(_Keyed(dataset), batch_sampler=sampler, **_loader_options(config))


def eval_loader(dataset: Dataset, config: TrainConfig) -> DataLoader:
    """Validation batches in a fixed order, over a seeded random `max_eval_samples` of the dataset."""
    if config.max_eval_samples is not None and len(dataset) > config.max_eval_samples:
        dataset = Subset(
            dataset, seeded_subset(len(dataset), config.max_eval_samples, EVAL_SUBSET_SEED).tolist()
        )
    return DataLoader(dataset, batch_size=config.eval_batch_size, shuffle=False, **_loader_options(config))
