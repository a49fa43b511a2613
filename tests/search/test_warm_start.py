"""Warm start: a search pretrains one source-only model once, in its own storage (here a real S3 server),
and every trial starts from it; a resume reuses it; a missing or corrupt checkpoint is refused, naming the
file, before any trial starts."""

from __future__ import annotations

import pytest
import ray
import torch

from models.checkpoints import read_warm_start
from models.config import TrainConfig
from models.hourglass import HourglassConfig, StackedHourglass
from search.errors import ConfigError
from search.experiment import read_experiment_manifest
from search.tuner import launch, resume
from search.warm_start import warm_start_uri
from tests.s3_server import s3_server  # noqa: F401  (fixture)
from tests.search.tiny import TINY, tiny_config

pytestmark = pytest.mark.slow
PRETRAIN_SEED = 7  # not the trials' seed: their random initialisation differs from the pretrained weights


def _parameters(state: dict) -> dict[str, torch.Tensor]:
    """The learned weights of a network state (BatchNorm's running statistics move without any lr)."""
    names = {name for name, _ in StackedHourglass(HourglassConfig(**TINY["model"], num_joints=14)).named_parameters()}
    return {k: v for k, v in state.items() if k in names}


def _trial_start_weights(s3, experiment: str) -> list[dict[str, torch.Tensor]]:
    """Each trial's weights after its first epoch, read back from storage. Trials train at lr 1e-12, so these
    are the weights each trial started from."""
    files = [f for f in s3.files(experiment) if f.endswith("checkpoint_000000/state.pt")]
    return [_parameters(read_warm_start(s3.uri(f))["model"]) for f in files]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.fixture(scope="module")
def warm(tmp_path_factory, shard_root, s3_server):  # noqa: F811
    tmp = tmp_path_factory.mktemp("warm")
    bucket = s3_server.bucket()
    config = tiny_config(
        tmp,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 1, "lr": 1e-12},
        search={**TINY["search"], "num_samples": 2},
        scheduler={"type": "none"},
        storage={"path": s3_server.uri(f"{bucket}/runs")},
        tracking={"wandb": "none"},
        warm_start={"pretrain_epochs": 1, "pretrain_set": {"train.lr": 0.002, "train.seed": PRETRAIN_SEED}},
    )
    try:
        outcome = launch(config, name="warm")
    finally:
        ray.shutdown()
    return config, outcome, f"{bucket}/runs/warm"


def test_the_pretrained_model_is_recorded_and_every_trial_starts_from_it(warm, s3_server):  # noqa: F811
    config, outcome, experiment = warm
    assert outcome.finished == 2 and outcome.errored == 0
    manifest = read_experiment_manifest(outcome.experiment_uri)
    record = manifest["warm_start"]
    assert record["made_by"] == "pretrain" and record["checkpoint"] == warm_start_uri(outcome.experiment_uri)
    assert manifest["config"]["train"]["init_from"] == record["checkpoint"]
    assert record["config"]["train"]["adv_weight"] == 0.0 and record["config"]["train"]["seed"] == PRETRAIN_SEED
    assert f"{experiment}/warm_start/state.pt" in s3_server.files(experiment)

    pretrained = _parameters(read_warm_start(record["checkpoint"])["model"])
    torch.manual_seed(config.train.seed)  # what a trial would start from without the warm start
    fresh = _parameters(StackedHourglass(config.model).state_dict())
    assert not _same(pretrained, fresh)
    starts = _trial_start_weights(s3_server, experiment)
    assert len(starts) == 2
    assert all(_same(start, pretrained) for start in starts)


def test_a_resumed_search_reuses_the_recorded_checkpoint(warm, s3_server, capsys):  # noqa: F811
    _, outcome, experiment = warm
    path = f"{experiment}/warm_start/state.pt"
    before = s3_server.filesystem.get_file_info(path)
    record = read_experiment_manifest(outcome.experiment_uri)["warm_start"]
    capsys.readouterr()
    try:
        resumed = resume(outcome.experiment_uri, more=1)
    finally:
        ray.shutdown()
    assert resumed.finished == 3
    assert "pretraining" not in capsys.readouterr().out
    after = s3_server.filesystem.get_file_info(path)
    assert (after.mtime, after.size) == (before.mtime, before.size)
    assert read_experiment_manifest(outcome.experiment_uri)["warm_start"] == record
    pretrained = _parameters(read_warm_start(record["checkpoint"])["model"])
    starts = _trial_start_weights(s3_server, experiment)
    assert len(starts) == 3 and all(_same(start, pretrained) for start in starts)


def test_a_corrupt_recorded_checkpoint_stops_the_resume_naming_the_file(warm, s3_server):  # noqa: F811
    _, outcome, experiment = warm
    with s3_server.filesystem.open_output_stream(f"{experiment}/warm_start/state.pt") as out:
        out.write(b"half an upload")
    trials = len(_trial_start_weights(s3_server, experiment))
    with pytest.raises(ConfigError, match="warm_start/state.pt.*not a readable posetune checkpoint"):
        resume(outcome.experiment_uri, more=1)
    assert not ray.is_initialized()  # refused before Ray started, so before any trial
    assert len(_trial_start_weights(s3_server, experiment)) == trials


def _saved(path, model: HourglassConfig) -> str:
    torch.save({"model": StackedHourglass(model).state_dict(), "config": TrainConfig(model=model).to_dict()}, path)
    return str(path)


@pytest.mark.parametrize("kind", ["missing", "corrupt", "other network"])
def test_a_bad_given_checkpoint_is_refused_before_ray_starts(tmp_path, shard_root, kind):
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root})
    bad = tmp_path / "given.pt"
    if kind == "corrupt":
        bad.write_bytes(b"PK\x03\x04 not torch")
    elif kind == "other network":
        _saved(bad, HourglassConfig(**{**TINY["model"], "num_features": 8}, num_joints=14))
    problem = {"missing": "no checkpoint there", "corrupt": "not a readable", "other network": "different network"}
    with pytest.raises(ConfigError, match=rf"{bad}: warm_start.checkpoint: .*{problem[kind]}"):
        launch(config.with_params({"warm_start.checkpoint": str(bad)}), name="bad")
    assert not ray.is_initialized()
    assert not (tmp_path / "runs").exists()


def test_warm_start_settings_are_checked_with_the_config(tmp_path):
    with pytest.raises(ConfigError, match="warm_start: .*not both"):
        tiny_config(tmp_path, warm_start={"checkpoint": "x.pt", "pretrain_epochs": 1})
    with pytest.raises(ConfigError, match=r"warm_start.pretrain_set.model.num_features: .*network"):
        tiny_config(tmp_path, warm_start={"pretrain_epochs": 1, "pretrain_set": {"model.num_features": 8}})
    with pytest.raises(ConfigError, match=r"warm_start.pretrain_set: .*train.lr"):
        tiny_config(tmp_path, warm_start={"pretrain_epochs": 1, "pretrain_set": {"train.lr": -1.0}})
