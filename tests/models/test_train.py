import json
import math

import numpy as np
import pytest
import torch

from data_pipeline.joints import TORSO_PAIR
from models import metric_names as names
from models.checkpoints import load_checkpoint
from models.config import TrainConfig
from models.evaluation import evaluate, run_eval
from models.hourglass import HourglassConfig
from models.loaders import TrainData, collate, eval_loader
from models.runtime import Runtime
from models.targets import heatmap_codec, supervised_mask
from models.train import NonFiniteLossError, build_model, fit, setup_run, step_losses
from tests.models.blobs import BlobDataset

SIZE = 64
PREFIXED = (
    *names.PDJ_FRACTIONS,
    *(names.elbows(n) for n in names.PDJ_FRACTIONS),
    *(names.visible_only(n) for n in names.PDJ_FRACTIONS),
    names.RMSE,
    names.PCK05_TLLIB,
    names.LOSS,
)
KEYS = {
    "epoch", "step", "lr", "grl_lambda", "train_loss", "train_pose_loss", "train_domain_loss",
    "train_images_per_s", "epoch_time_s",
} | {p + k for p in names.VAL_PREFIXES for k in PREFIXED} | {
    names.TARGET_VAL + k for k in names.LABEL_FREE_SPLIT} | {names.DEV, names.DOMAIN_PROBE_ACC}  # fmt: skip


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
    assert sorted(set(data.source_train.epochs_seen)) == [0, 1, 2, 3]
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
    with pytest.raises(ValueError, match=r"adv_weight > 0 \(or target_in_bn\) needs"):
        fit(_config(adv_weight=1.0), TrainData(BlobDataset(4, SIZE), BlobDataset(4, SIZE), BlobDataset(4, SIZE)),
            Recorder(), "/nonexistent-unused")  # fmt: skip


def test_each_pass_over_the_data_in_an_epoch_draws_its_own_augmentations(tmp_path):
    """10 steps of batch 4 over 24 samples walk the data twice in one epoch: pass 1 must not replay pass 0."""
    data = _data()
    fit(_config(epochs=1, steps_per_epoch=10), data, Recorder(), str(tmp_path))
    assert (0, 0) in data.source_train.passes_seen and (0, 1) in data.source_train.passes_seen


def test_every_labelled_joint_is_supervised_unless_asked_for_visible_only():
    """Occluded joints (labelled, not drawn) keep their heatmap targets; `supervise: visible` is the ablation."""
    batch = collate([BlobDataset(6, SIZE, seed=5, invisible_prob=0.5)[i] for i in range(6)])
    assert not batch["visible"].all()
    codec_config = _config()
    codec = heatmap_codec(codec_config)
    _, weights = codec.encode(batch["joints"], supervised_mask(batch, codec_config))
    assert weights.bool().equal(batch["labelled"])
    _, weights = codec.encode(batch["joints"], supervised_mask(batch, _config(supervise="visible")))
    assert weights.bool().equal(batch["visible"])


def test_an_occluded_torso_joint_does_not_drop_the_image_from_pdj(tmp_path):
    """PDJ's torso comes from labelled joints: occluding the left shoulder must not make PDJ undefined."""
    config = _config(epochs=1)
    rec = Recorder()
    fit(config, _data(), rec, str(tmp_path))
    occluded = BlobDataset(8, SIZE, seed=3, background=90)
    occluded.visible[:, list(TORSO_PAIR)] = False
    metrics = evaluate(rec.dirs[0], occluded, prefix=names.TARGET_VAL)
    assert math.isfinite(metrics[names.SELECTION])
    assert not math.isnan(metrics[names.TARGET_VAL + names.per_joint(names.PDJ20)][TORSO_PAIR[0]])


def test_max_eval_samples_is_a_seeded_random_subset():
    class Recording(BlobDataset):
        def __getitem__(self, i):
            self.asked.append(int(i))
            return super().__getitem__(i)

    config = _config(max_eval_samples=4)
    model, _ = build_model(config)
    asked = []
    for _ in range(2):
        data = Recording(16, SIZE, seed=9)
        data.asked = []
        run_eval(model, None, eval_loader(data, config), config, Runtime.from_config(config))
        asked.append(sorted(data.asked))
    assert asked[0] == asked[1] and len(asked[0]) == 4
    assert asked[0] != [0, 1, 2, 3]


def _bn_buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running_mean" in k}


@pytest.mark.parametrize(
    ("target_bn", "target_in_bn", "adv_weight"), [("frozen", False, 0.5), ("shared", True, 0.0)]
)
def test_target_images_enter_the_pose_networks_batchnorm_only_when_shared(
    target_bn, target_in_bn, adv_weight
):
    """`frozen` keeps target images out of the pose network's BN statistics; `shared` (the adversarial arms'
    setup, or target_in_bn alone: the BN effect without the GRL) mixes them in."""
    data = _data()
    batch = collate([data.source_train[i] for i in range(4)])
    target = collate([BlobDataset(4, SIZE, seed=4, background=250)[i] for i in range(4)])["image"]
    config = _config(target_bn=target_bn, target_in_bn=target_in_bn, adv_weight=adv_weight)
    run = setup_run(config, data, "/tmp/unused-bn-test")
    alone = setup_run(_config(), data, "/tmp/unused-bn-test")  # same seed: same initial weights
    run.model.train()
    alone.model.train()
    step_losses(run, batch, target, 0.5)
    step_losses(alone, batch, None, 0.0)
    mine, source_only = _bn_buffers(run.model), _bn_buffers(alone.model)
    same = all(torch.allclose(mine[k], source_only[k]) for k in mine)
    assert same == (target_bn == "frozen")
    assert all(m.training for m in run.model.modules())  # frozen BN is restored to training mode


def test_target_in_bn_conflicts_with_frozen_bn():
    with pytest.raises(ValueError, match="target_in_bn"):
        _config(target_in_bn=True, target_bn="frozen")
