"""Label-free selection scores (models.label_free): their geometry, DEV's estimator, the domain probe, and
that none of them reads a target label."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from data_pipeline.joints import FLIP_PAIRS
from models import label_free
from models import metric_names as names
from models.evaluation import evaluate
from models.loaders import TrainData
from models.train import build_model, setup_run, validate
from tests.models.blobs import BlobDataset
from tests.models.test_train import SIZE, _config, _data

LABEL_FREE_KEYS = {names.TARGET_VAL + n for n in names.LABEL_FREE_SPLIT} | {names.DEV, names.DOMAIN_PROBE_ACC}


class Relabelled:
    """`dataset` with its keypoint labels replaced: scrambled to random positions, or removed (every
    joint unlabelled), the images untouched."""

    def __init__(self, dataset, how: str):
        self.dataset, self.how = dataset, how

    def __len__(self):
        return len(self.dataset)

    def set_epoch(self, epoch, pass_index=0):
        self.dataset.set_epoch(epoch, pass_index)

    def __getitem__(self, i):
        item = dict(self.dataset[i])
        rng = np.random.default_rng([99, i])
        if self.how == "scrambled":
            item["joints"] = rng.uniform(0, SIZE - 1, size=item["joints"].shape).astype(np.float32)
            item["visible"] = rng.random(item["visible"].shape) < 0.5
        else:
            item["joints"] = np.zeros_like(item["joints"])
            item["labelled"] = np.zeros_like(item["labelled"])
            item["visible"] = np.zeros_like(item["visible"])
        return item


def _validated(config, target_val) -> dict:
    data = _data()
    data = TrainData(data.source_train, data.source_val, target_val, data.target_adapt)
    run = setup_run(config, data, "/tmp/unused-label-free")
    return validate(run)


@pytest.mark.parametrize("adv_weight", [0.0, 0.5])
def test_scrambling_or_removing_target_labels_changes_no_label_free_score(adv_weight):
    config = _config(adv_weight=adv_weight, adv_attach="features")
    target = BlobDataset(8, SIZE, seed=3, background=90)
    original = _validated(config, target)
    scrambled = _validated(config, Relabelled(target, "scrambled"))
    removed = _validated(config, Relabelled(target, "removed"))
    assert LABEL_FREE_KEYS <= set(original)
    for key in (*LABEL_FREE_KEYS, *(k for k in names.LABEL_FREE_METRICS if k in original)):
        assert math.isfinite(original[key]), key
        assert scrambled[key] == original[key], key
        assert removed[key] == original[key], key
    # A labelled metric does read them: the scrambled labels score differently, removed ones not at all.
    assert scrambled[names.SELECTION] != original[names.SELECTION]
    assert not any(k in removed for k in names.LABELLED_TARGET_METRICS)
    assert (names.DOMAIN_ACC in original) == (adv_weight > 0)


def test_evaluate_reports_the_split_scores_of_an_unlabelled_split():
    config = _config()
    model, _ = build_model(config)
    metrics = evaluate(model, Relabelled(BlobDataset(6, SIZE, seed=3), "removed"), config, prefix="x_")
    assert set(metrics) == {"x_" + n for n in names.LABEL_FREE_SPLIT}
    for value in metrics.values():
        assert 0.0 <= value <= 1.0


def _dot_image(x: float, y: float, size: int = 48) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    blob = torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 2.0)
    return blob.expand(1, 3, size, size).clone()


def _argmax_xy(image: torch.Tensor) -> torch.Tensor:
    plane = image[0, 0]
    index = int(plane.argmax())
    return torch.tensor([index % plane.shape[1], index // plane.shape[1]], dtype=torch.float32)


def test_jitter_and_flip_map_predictions_back_to_the_original_image():
    size, x, y = 48, 30.0, 14.0
    image = _dot_image(x, y, size)
    thetas = label_free.jitter_thetas(np.arange(5))
    for k in range(5):
        seen = _argmax_xy(label_free.jitter_images(image, thetas[k : k + 1]))
        back = label_free.unjitter_joints(seen.expand(1, 14, 2), thetas[k : k + 1], size)[0, 0]
        assert torch.allclose(back, torch.tensor([x, y]), atol=1.0), (k, back)
    assert not torch.allclose(thetas[0], thetas[1])  # each image its own jitter
    assert torch.equal(thetas, label_free.jitter_thetas(np.arange(5)))  # the same in every epoch
    seen = _argmax_xy(label_free.flip_images(image))
    joints = torch.zeros(1, 14, 2)
    joints[0, FLIP_PAIRS[0][1]] = seen  # the mirrored image's "left" ankle is the original's right one
    back = label_free.unflip_joints(joints, size)[0, FLIP_PAIRS[0][0]]
    assert torch.equal(back, torch.tensor([x, y]))


def test_agreement_counts_joints_within_the_image_side_fraction():
    a = np.zeros((2, 14, 2))
    b = a.copy()
    b[0, :6, 0] = 0.06 * 100  # 6 of the 13 shared joints beyond 0.05 x side on image 0
    b[1, 13] = 50.0  # head-top is not a shared joint
    assert label_free.agreement(a, b, 100) == pytest.approx([7 / 13, 1.0])


def test_dev_is_the_mean_loss_under_equal_densities_and_follows_the_paper():
    loss = np.array([1.0, 2.0, 3.0, 4.0])
    assert label_free.dev_risk(loss, np.ones(4)) == pytest.approx(2.5)
    w = np.array([0.5, 1.0, 1.5, 1.0])
    weighted = w * loss
    eta = -np.cov(weighted, w)[0, 1] / np.var(w, ddof=1)
    assert label_free.dev_risk(loss, w) == pytest.approx(weighted.mean() + eta * w.mean() - eta)
    assert label_free.density_ratio(np.array([0.5, 0.8]), 1.0) == pytest.approx([1.0, 0.25])


def test_the_probe_separates_distinct_features_and_not_identical_ones():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(40, 8))
    p_s, p_t = label_free.probe_source_probability(source, source + 3.0)
    assert (p_s > 0.5).all() and (p_t < 0.5).all()
    p_s, p_t = label_free.probe_source_probability(source, rng.normal(size=(40, 8)))
    accuracy = np.concatenate([p_s > 0.5, p_t <= 0.5]).mean()
    assert 0.25 < accuracy < 0.75
    again = label_free.probe_source_probability(source, source + 3.0)
    assert np.array_equal(again[0], label_free.probe_source_probability(source, source + 3.0)[0])


def test_spatial_stats_peak_and_entropy_bounds():
    flat = torch.zeros(1, 1, 4, 4)
    sharp = torch.full((1, 1, 4, 4), -50.0)
    sharp[..., 1, 2] = 50.0
    peak, entropy = label_free.spatial_stats(torch.cat([flat, sharp], dim=1), "ce")
    assert peak[0].tolist() == pytest.approx([1 / 16, 1.0]) and entropy[0].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    peak, entropy = label_free.spatial_stats(torch.cat([flat, sharp.clamp_min(0)], dim=1), "mse")
    assert entropy[0].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
