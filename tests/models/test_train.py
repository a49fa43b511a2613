import json
import math

import numpy as np
import pytest
import torch

from models.hourglass import HourglassConfig
from models.train import NonFiniteLossError, TrainConfig, TrainData, evaluate, fit, load_checkpoint
from tests.models.blobs import BlobDataset

SIZE = 64
PREFIXED = (
    "pdj05",
    "pdj20",
    "pdj40",
    "pdj05_elbows",
    "pdj20_elbows",
    "pdj40_elbows",
    "rmse",
    "pck05",
    "loss",
)
KEYS = {
    "epoch", "step", "lr", "grl_lambda", "train_loss", "train_pose_loss", "train_domain_loss",
    "train_images_per_s", "epoch_time_s",
} | {p + k for p in ("target_val_", "source_val_") for k in PREFIXED}  # fmt: skip


def _config(**overrides) -> TrainConfig:
    base = {
        "model": {"num_stacks": 1, "num_features": 16, "depth": 2, "num_joints": 14, "input_size": SIZE},
        "epochs": 2,
        "steps_per_epoch": 3,
        "batch_size": 4,
        "lr": 2.5e-3,
        "lr_decay_rate": 0.5,
        "lr_decay_steps": 4,
        "sigma": 1.0,
        "eval_batch_size": 8,
        "max_eval_samples": 8,
    }
    return TrainConfig.from_dict({**base, **overrides})


def _data(n_train: int = 24) -> TrainData:
    return TrainData(
        source_train=BlobDataset(n_train, SIZE, seed=1),
        source_val=BlobDataset(8, SIZE, seed=2),
        target_val=BlobDataset(8, SIZE, seed=3, background=90),
        target_adapt=BlobDataset(12, SIZE, seed=4, background=90),
    )


class Recorder:
    def __init__(self, stop_after: int | None = None):
        self.metrics, self.dirs, self.stop_after = [], [], stop_after

    def __call__(self, metrics, checkpoint_dir):
        self.metrics.append(metrics)
        self.dirs.append(checkpoint_dir)
        if self.stop_after is not None and len(self.metrics) == self.stop_after:
            raise KeyboardInterrupt("simulated interruption after a report")


def test_short_fit_loss_falls_and_lr_decays(tmp_path):
    rec = Recorder()
    config = _config(epochs=4, steps_per_epoch=None, loss="ce")
    data = _data()
    last = fit(config, data, rec, str(tmp_path))
    losses = [m["train_pose_loss"] for m in rec.metrics]
    assert losses[-1] < losses[0]
    assert [m["epoch"] for m in rec.metrics] == [1, 2, 3, 4]
    assert [m["step"] for m in rec.metrics] == [6, 12, 18, 24]  # 24 samples / batch 4
    # lr = 2.5e-3 · 0.5^(step/4), applied every step.
    assert last["lr"] == pytest.approx(2.5e-3 * 0.5 ** (24 / 4))
    assert data.source_train.epochs_seen == [0, 1, 2, 3]
    assert set(KEYS) <= set(last) and "domain_acc" not in last
    assert len(list((tmp_path / "checkpoints").glob("epoch_*"))) == 2  # keep_checkpoints=2


def test_adversarial_and_plain_runs_report_every_key(tmp_path):
    for adv_weight, attach in ((0.0, "heatmaps"), (0.5, "heatmaps"), (0.5, "features")):
        rec = Recorder()
        config = _config(epochs=1, adv_weight=adv_weight, adv_attach=attach)
        fit(config, _data(), rec, str(tmp_path / f"{adv_weight}-{attach}"))
        (metrics,) = rec.metrics
        expected = KEYS | ({"domain_acc"} if adv_weight else set())
        assert set(metrics) == expected
        assert all(isinstance(v, float) for v in metrics.values())
        finite = {k for k, v in metrics.items() if not math.isfinite(v)}
        assert finite == set()
        if adv_weight:
            assert 0 < metrics["grl_lambda"] < 1 and metrics["train_domain_loss"] > 0
            assert 0.0 <= metrics["domain_acc"] <= 1.0
        saved = json.loads(
            (tmp_path / f"{adv_weight}-{attach}" / "checkpoints/epoch_0001/metrics.json").read_text()
        )
        assert len(saved["target_val_pdj20_per_joint"]) == 14


def test_resume_continues_exactly(tmp_path):
    config = _config(adv_weight=0.3)
    straight = Recorder()
    fit(config, _data(), straight, str(tmp_path / "straight"))

    interrupted = Recorder(stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        fit(config, _data(), interrupted, str(tmp_path / "resumed"))
    resumed = Recorder()
    fit(config, _data(), resumed, str(tmp_path / "resumed"), resume_from=interrupted.dirs[0])

    assert [m["epoch"] for m in resumed.metrics] == [2]
    a = torch.load(f"{straight.dirs[-1]}/state.pt", weights_only=True)
    b = torch.load(f"{resumed.dirs[-1]}/state.pt", weights_only=True)
    for part in ("model", "domain_classifier"):
        assert a[part].keys() == b[part].keys()
        for name in a[part]:
            assert torch.equal(a[part][name], b[part][name]), f"{part}.{name} differs after resume"
    assert a["step"] == b["step"] == 6
    for key in ("train_loss", "lr", "grl_lambda", "target_val_pdj20", "domain_acc"):
        assert resumed.metrics[-1][key] == straight.metrics[-1][key]


def test_non_finite_loss_stops_the_run(tmp_path):
    data = _data()
    data.source_train.joints[:] = np.nan  # a broken label propagates into the loss
    rec = Recorder()
    with pytest.raises(NonFiniteLossError, match=r"training loss became nan at epoch 1, step 1"):
        fit(_config(), data, rec, str(tmp_path))
    assert rec.metrics == []


def test_checkpoint_loads_and_evaluates(tmp_path):
    rec = Recorder()
    config = _config(epochs=1)
    fit(config, _data(), rec, str(tmp_path))
    model, loaded, state = load_checkpoint(rec.dirs[0])
    assert loaded == config and state["epoch"] == 1
    metrics = evaluate(rec.dirs[0], _data().target_val, prefix="target_test_")
    assert metrics["target_test_pdj20"] == pytest.approx(rec.metrics[0]["target_val_pdj20"])
    assert metrics["target_test_rmse"] == pytest.approx(rec.metrics[0]["target_val_rmse"])
    assert evaluate(model, _data().target_val, loaded)["rmse"] == pytest.approx(metrics["target_test_rmse"])


def test_train_config_round_trip_and_unknown_keys():
    config = _config(adv_weight=0.1)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert isinstance(config.model, HourglassConfig)
    with pytest.raises(ValueError, match="'adv_wieght'"):
        TrainConfig.from_dict({"adv_wieght": 0.1})
    with pytest.raises(ValueError, match="'model.stacks'"):
        TrainConfig.from_dict({"model": {"stacks": 2}})
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="l1")
    with pytest.raises(ValueError, match="adv_weight > 0 needs"):
        fit(_config(adv_weight=1.0), TrainData(BlobDataset(4, SIZE), BlobDataset(4, SIZE), BlobDataset(4, SIZE)),
            Recorder(), "/nonexistent-unused")  # fmt: skip
