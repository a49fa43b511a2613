"""The node-local memory-mapped copy of a split: written once however many trials start at once, read back
identically, and mapped rather than held in each process's private memory."""

from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_pipeline.loader import AugmentConfig, ShardDataset
from data_pipeline.manifest import SHARDS_MANIFEST
from data_pipeline.pipeline import EnhanceSettings, enhance_sample, rows_to_table
from data_pipeline.schema import SCHEMA_VERSION
from tests.data_pipeline.test_loader import _sample

N = 40


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    settings = EnhanceSettings(size=64, margin=0.1, brightness=False, image_format="png")
    rows = [enhance_sample(_sample(k, "train"), settings) for k in range(N)]
    (root / "source").mkdir()
    for part in range(4):
        pq.write_table(rows_to_table(rows[part::4]), root / "source" / f"{part}.parquet")
    manifest = {"schema_version": SCHEMA_VERSION, "counts": {"source": {"train": N}}}
    (root / SHARDS_MANIFEST).write_text(json.dumps(manifest))
    return str(root)


def _open(args):
    root, cache, barrier = args
    barrier.wait()  # every "trial" asks for the split at the same moment
    dataset = ShardDataset(root, "source", "train", 64, cache_dir=cache)
    return dataset.cache_written, [dataset.sample_id(i) for i in range(len(dataset))]


def test_concurrent_trials_write_the_node_copy_once(shards, tmp_path):
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(4)
    with context.Pool(4) as pool:
        outcomes = pool.map(_open, [(shards, str(tmp_path / "cache"), barrier)] * 4)
    assert sorted(wrote for wrote, _ in outcomes) == [False, False, False, True]
    private = ShardDataset(shards, "source", "train", 64, cache_dir=None)
    assert all(ids == [private.sample_id(i) for i in range(N)] for _, ids in outcomes)
    assert len(list((tmp_path / "cache").glob("*.arrow"))) == 1
    assert not list((tmp_path / "cache").glob(".*.tmp"))


def test_mapped_items_equal_private_ones_with_a_limit_and_augmentation(shards, tmp_path):
    augment = AugmentConfig(occlusion_prob=0.5)
    kwargs = {"augment": augment, "limit": 7, "limit_seed": 3, "seed": 1}
    mapped = ShardDataset(shards, "source", "train", 48, cache_dir=tmp_path, **kwargs)
    private = ShardDataset(shards, "source", "train", 48, cache_dir=None, **kwargs)
    assert len(mapped) == len(private) == 7
    for i in range(7):
        a, b = mapped[i], private[i]
        assert mapped.sample_id(i) == private.sample_id(i)
        for key in ("image", "joints", "labelled", "visible"):
            np.testing.assert_array_equal(a[key], b[key])
    # Each item of the subset is the whole split's item of the same id, image and labels alike.
    whole = ShardDataset(shards, "source", "train", 48, cache_dir=tmp_path)
    position = {whole.sample_id(i): i for i in range(len(whole))}
    limited = ShardDataset(shards, "source", "train", 48, cache_dir=tmp_path, limit=7, limit_seed=3)
    for i in range(7):
        a, b = limited[i], whole[position[limited.sample_id(i)]]
        for key in ("image", "joints", "labelled", "visible", "head_size"):
            np.testing.assert_array_equal(a[key], b[key])


def test_the_split_is_mapped_not_copied_into_private_memory(shards, tmp_path):
    ShardDataset(shards, "source", "train", 64, cache_dir=tmp_path)  # writes the node copy
    image_bytes = ShardDataset(shards, "source", "train", 64, cache_dir=None)._images.nbytes
    before = pa.total_allocated_bytes()
    mapped = ShardDataset(shards, "source", "train", 64, cache_dir=tmp_path)
    assert not mapped.cache_written
    assert pa.total_allocated_bytes() - before < image_bytes / 4
    before = pa.total_allocated_bytes()
    private = ShardDataset(shards, "source", "train", 64, cache_dir=None)
    assert pa.total_allocated_bytes() - before >= image_bytes
    del private
