"""The per-trial loader: Parquet shards -> augmented samples as numpy arrays, ready for a torch DataLoader.

Reads with pyarrow alone (local paths, s3://, gs:// through `pyarrow.fs`); never Ray Data, which
deadlocks inside Tune trials that hold every CPU. The encoded image and mask bytes of the chosen
domain/split are decoded per item: a 256 px JPEG q95 crop is 10-14 KB on the demo data (expect 20-40 KB
for busy real photos) plus ~1.5 KB of PNG mask, so 100k samples hold about 1.5-4 GB. They are read once
per node into a memory-mapped Arrow file (`data_pipeline.shard_cache`) that every trial on the node and
every forked DataLoader worker maps: one copy of the bytes in memory, whatever the number of trials.

Augmentation (the trial's hyperparameters, `AugmentConfig`): the study's occlusion with probability p
using the stored person mask, then rotation about the person's barycenter, scale and horizontal flip
composed into ONE affine warp to `input_size`. The random stream of item i in pass k of epoch e is
`default_rng([seed, e, k, i])`, so a resumed training sees exactly the same batches whatever the worker
count or order, and an epoch that walks the dataset several times draws new augmentations each time.

Items carry both joint masks: `labelled` (a position exists) and `visible` (labelled and not occluded;
the synthetic occluder clears it, never `labelled`), plus `head_size` (nan where the format has none).
"""

from __future__ import annotations

import os
import posixpath
from typing import Annotated

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from pydantic import Field, StrictFloat, field_validator

from data_pipeline import storage
from data_pipeline.enhance import affine_matrix, occlude, person_barycenter, scale_points, warp
from data_pipeline.errors import DataError
from data_pipeline.manifest import SHARDS_MANIFEST, read_shards_manifest
from data_pipeline.schema import NUM_JOINTS, check_schema_version, decode_image, decode_mask
from data_pipeline.settings import settings_dataclass
from data_pipeline.shard_cache import cache_key, default_cache_dir, mapped_table

Fraction = Annotated[StrictFloat, Field(gt=0, le=1)]
Positive = Annotated[StrictFloat, Field(gt=0)]


@settings_dataclass(frozen=True)
class AugmentConfig:
    """Per-trial augmentation; every field is a searchable hyperparameter (`augment.<field>`)."""

    occlusion_prob: StrictFloat = Field(
        0.0, ge=0, le=1, description="chance of the study's occluder, per sample"
    )
    occlusion_size: tuple[Fraction, Fraction] = Field(
        (0.2, 0.5), description="occluder side / person extent, drawn in [low, high] per axis"
    )
    rotation_deg: StrictFloat = Field(30.0, ge=0, le=180, description="rotation drawn in [-r, r] degrees")
    scale_range: tuple[Positive, Positive] = Field((0.75, 1.25), description="scale drawn in [low, high]")
    flip_prob: StrictFloat = Field(0.5, ge=0, le=1, description="chance of a horizontal flip")

    @field_validator("occlusion_size", "scale_range")
    @classmethod
    def _low_then_high(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if bounds[0] > bounds[1]:
            raise ValueError(f"[low, high] with low <= high, got {list(bounds)}")
        return bounds


def before_forking_workers() -> None:
    """Run OpenCV on one thread in the process that is about to fork DataLoader workers.

    OpenCV's thread pool does not survive fork: a forked worker that resizes the pool it inherited can
    deadlock in it (seen in the suite after earlier tests had used the pool). A pool of one has no threads
    to lose, and the workers inherit it. The forking process does no image work while its workers run."""
    cv2.setNumThreads(1)


def worker_init(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: one OpenCV thread per worker process. OpenCV otherwise starts a thread
    per core in every worker, and N workers x M threads oversubscribe the node's cores. (Under fork the
    worker already inherits one thread from `before_forking_workers`; this covers spawn and forkserver.)"""
    cv2.setNumThreads(1)


def seeded_subset(n: int, limit: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of `limit` of `n` rows drawn at random with `seed` (all rows when limit is None or
    >= n): a cap that keeps every subject and sequence represented, unlike the first N by id."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


class ShardDataset:
    """Map-style dataset over one domain/split of an enhancement output (works with torch DataLoader).

    `limit` keeps a seeded random subset of that many rows (`limit_seed`), the same whatever the trial.
    `cache_dir` ("auto": `shard_cache.default_cache_dir()`) holds the node's memory-mapped copy of the split;
    None reads the split into this process's private memory instead. `labels=False` hides every keypoint
    label (all joints unlabelled, positions zero): the split as a target without labels would be."""

    def __init__(
        self,
        root: str,
        domain: str,
        split: str,
        input_size: int,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        filesystem: pafs.FileSystem | None = None,
        limit: int | None = None,
        limit_seed: int = 0,
        cache_dir: str | os.PathLike | None = "auto",
        labels: bool = True,
    ):
        self.root, self.domain, self.split = root, domain, split
        self.input_size, self.augment, self.seed = int(input_size), augment, int(seed)
        self.epoch, self.pass_index = 0, 0
        fs, path = storage.resolve(root, filesystem)
        self.manifest = read_shards_manifest(path, fs)
        check_schema_version(self.manifest, f"{root}/{SHARDS_MANIFEST}")
        where = posixpath.join(path, domain)
        if fs.get_file_info(where).type == pafs.FileType.NotFound:
            raise DataError(f"{root}/{domain}", f"no {domain!r} shards in this output")
        dataset = pads.dataset(where, format="parquet", filesystem=fs)
        columns = ["sample_id", "image", "mask", "joints", "labelled", "visible", "head_size"]

        def read() -> pa.Table:
            table = dataset.to_table(columns=columns, filter=pc.field("split") == split)
            return table.sort_by("sample_id")  # a stable index, whatever order the job wrote files in

        if cache_dir is None:
            table, self.cache_written = read(), False
        else:
            listing = sorted((f.path, f.size) for f in fs.get_file_info(dataset.files))
            key = cache_key(type(fs).__name__, where, split, self.manifest, listing)
            cache = default_cache_dir() if cache_dir == "auto" else cache_dir
            table, self.cache_written = mapped_table(read, key, cache)
        if table.num_rows == 0:
            known = sorted(self.manifest.get("counts", {}).get(domain, {}))
            raise DataError(f"{root}/{domain}", f"no samples in split {split!r} (splits here: {known})")
        # Rows are picked by index, never copied out of the mapped table (`take` would copy the bytes).
        rows = seeded_subset(table.num_rows, limit, limit_seed)
        self._rows = rows
        self._ids = _one_chunk(table.column("sample_id"))
        self._images = _one_chunk(table.column("image"))
        self._masks = _one_chunk(table.column("mask"))
        joints = table.column("joints").combine_chunks().flatten().to_numpy()
        self._joints = joints.reshape(-1, NUM_JOINTS, 2).astype(np.float32)[rows]
        self._labelled, self._visible = (
            table.column(name).combine_chunks().flatten().to_numpy(zero_copy_only=False)
            .reshape(-1, NUM_JOINTS).astype(bool)[rows]
            for name in ("labelled", "visible")
        )  # fmt: skip
        self._head_size = table.column("head_size").to_numpy(zero_copy_only=False).astype(np.float32)[rows]
        if not labels:
            self._joints[:] = 0.0
            self._labelled[:] = False
            self._visible[:] = False

    def __len__(self) -> int:
        return len(self._rows)

    def set_epoch(self, epoch: int, pass_index: int = 0) -> None:
        """Select the augmentation stream of pass `pass_index` over the data in `epoch` (in the process that
        reads the items: models.loaders' DataLoaders call it inside each worker, from the batch's keys)."""
        self.epoch, self.pass_index = int(epoch), int(pass_index)

    def sample_id(self, i: int) -> str:
        return self._ids[int(self._rows[i])].as_py()

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = int(i) % len(self)
        where = f"{self.root}/{self.domain}#{self.sample_id(i)}"
        image = decode_image(self._images[int(self._rows[i])].as_py(), where)
        joints, labelled, visible = self._joints[i].copy(), self._labelled[i].copy(), self._visible[i].copy()
        head_size = float(self._head_size[i])
        size = image.shape[0]
        if self.augment is None:
            if size != self.input_size:
                k = self.input_size / size
                interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
                image = cv2.resize(image, (self.input_size, self.input_size), interpolation=interp)
                joints = scale_points(joints, k)
                head_size *= k
        else:
            image, joints, labelled, visible, k = self._augmented(i, image, joints, labelled, visible, where)
            head_size *= k
        return {
            "image": image,
            "joints": joints,
            "labelled": labelled,
            "visible": visible,
            "head_size": head_size,
            "index": i,
        }

    def _augmented(self, i, image, joints, labelled, visible, where):
        aug = self.augment
        rng = np.random.default_rng([self.seed, self.epoch, self.pass_index, i])
        # Draw every decision first so the stream does not depend on what occlusion does.
        occluding = rng.random() < aug.occlusion_prob
        angle = rng.uniform(-aug.rotation_deg, aug.rotation_deg)
        scale = rng.uniform(*aug.scale_range)
        flipping = rng.random() < aug.flip_prob
        mask = (
            decode_mask(self._masks[int(self._rows[i])].as_py(), where)
            if (occluding or aug.rotation_deg)
            else None
        )
        pivot = person_barycenter(mask, joints, labelled)  # of the whole person, before any occlusion
        if occluding and mask is not None:
            image, mask, visible = occlude(image, mask, joints, visible, rng, aug.occlusion_size)
        size = image.shape[0]
        centre = ((size - 1) / 2.0, (size - 1) / 2.0)
        matrix = affine_matrix(centre, size, self.input_size, angle, scale, pivot=pivot, flip=flipping)
        image, _, joints, labelled, visible = warp(
            image, None, joints, labelled, visible, matrix, self.input_size, flipped=flipping
        )
        return image, joints, labelled, visible, self.input_size * scale / size


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: zero-copy when it already is one chunk (a mapped table), else concatenated."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
