"""The per-trial loader on hand-made shards (written with the job's own row code, read with pyarrow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from data_pipeline.errors import DataError
from data_pipeline.loader import AugmentConfig, ShardDataset
from data_pipeline.manifest import SHARDS_MANIFEST
from data_pipeline.pipeline import EnhanceSettings, enhance_sample, rows_to_table
from data_pipeline.readers.sample import Sample
from data_pipeline.schema import SCHEMA_VERSION

DOT = 3  # the joint marked by a single bright pixel


def _sample(k: int, split: str) -> Sample:
    rng = np.random.default_rng(k)
    image = rng.integers(0, 60, (120, 160, 3), dtype=np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[25:105, 60:100] = True
    image[mask] = (90, 60, 40)
    joints = rng.uniform((62, 27), (98, 103), (14, 2)).astype(np.float32)
    joints[DOT] = np.round(joints[DOT])
    image[int(joints[DOT, 1]), int(joints[DOT, 0])] = 255
    labelled = np.ones(14, bool)
    return Sample(image, mask, joints, labelled, labelled, f"s{k:03d}", "source", split, f"clip{k}.mp4")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    settings = EnhanceSettings(size=64, margin=0.1, brightness=False, image_format="png")
    rows = [enhance_sample(_sample(k, "train" if k < 6 else "val"), settings) for k in range(8)]
    (root / "source").mkdir()
    pq.write_table(rows_to_table(rows[:5]), root / "source" / "a.parquet")
    pq.write_table(rows_to_table(rows[5:]), root / "source" / "b.parquet")
    manifest = {"schema_version": SCHEMA_VERSION, "counts": {"source": {"train": 6, "val": 2}}}
    (root / SHARDS_MANIFEST).write_text(json.dumps(manifest))
    return str(root)


def _dot(image: np.ndarray) -> np.ndarray:
    weights = np.clip(image[..., 0].astype(np.float64) - 100, 0, None)  # only the dot is brighter than 100
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()


def test_evaluation_mode_is_deterministic_and_resizes_with_the_joints(shards):
    ds = ShardDataset(shards, "source", "train", input_size=128)
    assert len(ds) == 6 and [ds.sample_id(i) for i in range(6)] == [f"s{k:03d}" for k in range(6)]
    a, b = ds[2], ds[2]
    assert a["image"].shape == (128, 128, 3) and a["image"].dtype == np.uint8
    assert a["joints"].shape == (14, 2) and a["joints"].dtype == np.float32 and a["visible"].dtype == bool
    np.testing.assert_array_equal(a["image"], b["image"])
    assert np.linalg.norm(_dot(a["image"]) - a["joints"][DOT]) < 0.5
    assert len(ShardDataset(shards, "source", "val", 64)) == 2


def test_limit_is_a_seeded_random_subset_not_the_first_ids(shards):
    """A cap on samples must not keep only the first subjects (ids sort by subject and sequence)."""
    ids = {
        seed: [ds.sample_id(i) for i in range(len(ds))]
        for seed in range(6)
        for ds in [ShardDataset(shards, "source", "train", 64, limit=3, limit_seed=seed)]
    }
    assert all(len(v) == 3 and v == sorted(v) for v in ids.values())
    assert ids[0] == [
        ds.sample_id(i) for ds in [ShardDataset(shards, "source", "train", 64, limit=3)] for i in range(3)
    ]
    assert len({tuple(v) for v in ids.values()}) > 1  # the seed chooses
    assert any(v != ["s000", "s001", "s002"] for v in ids.values())
    assert ids[0] != ["s000", "s001", "s002"]


def test_shards_of_an_older_schema_are_refused_with_the_fix(shards, tmp_path):
    old = tmp_path / "old"
    (old / "source").mkdir(parents=True)
    for part in ("a", "b"):
        (old / "source" / f"{part}.parquet").write_bytes(
            (Path(shards) / "source" / f"{part}.parquet").read_bytes()
        )
    (old / SHARDS_MANIFEST).write_text(
        json.dumps({"counts": {"source": {"train": 6}}})
    )  # v1 wrote no version
    with pytest.raises(DataError, match=r"schema version 1.*re-run `posetune data enhance`"):
        ShardDataset(str(old), "source", "train", 64)


def test_augmentation_is_deterministic_per_seed_epoch_and_index(shards):
    aug = AugmentConfig(occlusion_prob=0.5, rotation_deg=40, flip_prob=0.5)
    ds = ShardDataset(shards, "source", "train", 64, augment=aug, seed=7)
    first = [ds[i]["image"] for i in range(6)]
    again = ShardDataset(shards, "source", "train", 64, augment=aug, seed=7)
    for i in (5, 0, 3):  # order does not matter
        np.testing.assert_array_equal(again[i]["image"], first[i])
    ds.set_epoch(1)
    assert any(not np.array_equal(ds[i]["image"], first[i]) for i in range(6))
    ds.set_epoch(0)
    np.testing.assert_array_equal(ds[4]["image"], first[4])
    ds.set_epoch(0, pass_index=1)  # a second pass over the data in the same epoch: new augmentations
    assert any(not np.array_equal(ds[i]["image"], first[i]) for i in range(6))
    other_seed = ShardDataset(shards, "source", "train", 64, augment=aug, seed=8)
    assert any(not np.array_equal(other_seed[i]["image"], first[i]) for i in range(6))


def test_joints_follow_rotation_scale_and_flip(shards):
    aug = AugmentConfig(rotation_deg=45, scale_range=(0.8, 1.2), flip_prob=0.5)
    ds = ShardDataset(shards, "source", "train", 96, augment=aug, seed=1)
    flips = 0
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            if not item["labelled"][[DOT, 2]].all():
                continue  # the dot's joint left the crop (it is no longer labelled there)
            dot = _dot(item["image"])
            distances = np.linalg.norm(item["joints"] - dot, axis=1)
            nearest = int(np.argmin(distances))
            assert distances[nearest] < 0.75  # the one-pixel dot was area-averaged into the 64 px crop
            assert nearest in (DOT, 2)  # 3 is the left hip; flipped, it is named right hip (2)
            flips += nearest == 2
    assert 0 < flips < 18


def test_occlusion_changes_only_pixels_and_hides_joints_but_keeps_their_labels(shards):
    base = AugmentConfig(occlusion_prob=0.0, rotation_deg=0, scale_range=(1, 1), flip_prob=0)
    occluded = AugmentConfig(occlusion_prob=1.0, rotation_deg=0, scale_range=(1, 1), flip_prob=0)
    plain = ShardDataset(shards, "source", "train", 64, augment=base, seed=3)
    covered = ShardDataset(shards, "source", "train", 64, augment=occluded, seed=3)
    changed = hidden = 0
    for i in range(len(plain)):
        a, b = plain[i], covered[i]
        np.testing.assert_allclose(a["joints"], b["joints"])  # geometry identical: same random stream
        assert (b["visible"] <= a["visible"]).all()
        np.testing.assert_array_equal(b["labelled"], a["labelled"])  # the occluder hides pixels, not labels
        changed += not np.array_equal(a["image"], b["image"])
        hidden += int((a["visible"] & ~b["visible"]).sum())
    assert changed >= 4 and hidden >= 1


def test_a_root_without_manifest_or_split_is_a_clear_error(shards, tmp_path):
    with pytest.raises(DataError, match="manifest"):
        ShardDataset(str(tmp_path), "source", "train", 64)
    with pytest.raises(DataError, match="'test'"):
        ShardDataset(shards, "source", "test", 64)
    with pytest.raises(DataError, match="target"):
        ShardDataset(shards, "target", "val", 64)


def test_a_torch_dataloader_batches_it_the_same_with_or_without_workers(shards):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ds = ShardDataset(shards, "source", "train", 32, augment=AugmentConfig(occlusion_prob=0.5), seed=5)
    ds.set_epoch(2)
    batches = [list(DataLoader(ds, batch_size=3, shuffle=False, num_workers=workers)) for workers in (0, 2)]
    for a, b in zip(*batches, strict=True):
        assert a["image"].shape == (3, 32, 32, 3) and a["image"].dtype == torch.uint8
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["joints"], b["joints"])


def test_training_warp_shrinks_by_area_averaging_like_evaluation(shards):
    """With every augmentation at identity, a training item must look like the evaluation item: both shrink
    the 64 px crops to 24 px by area averaging (a plain bilinear warp aliases the noise)."""
    identity = AugmentConfig(occlusion_prob=0.0, rotation_deg=0, scale_range=(1, 1), flip_prob=0)
    train = ShardDataset(shards, "source", "train", 24, augment=identity)
    evaluation = ShardDataset(shards, "source", "train", 24)
    for i in range(len(train)):
        a, b = train[i], evaluation[i]
        np.testing.assert_allclose(a["joints"], b["joints"], atol=1e-3)
        assert np.abs(a["image"].astype(int) - b["image"].astype(int)).mean() < 1.0
