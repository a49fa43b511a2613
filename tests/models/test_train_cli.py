"""`posetune train` end to end on in-memory blob data (the shard loader is swapped for it at one seam)."""

import csv
import json

import cv2
import pytest

from models.train import TrainData
from search import cli
from search.commands import train as train_command
from tests.models.blobs import BlobDataset

CONFIG = """
name: tiny
model: {num_stacks: 1, num_features: 16, depth: 2, input_size: 64}
train: {epochs: 2, steps_per_epoch: 2, batch_size: 4, sigma: 1.0, max_eval_samples: 8, adv_weight: 0.2}
augment: {occlusion_prob: 0.5}
data: {shards: /nowhere}
search: {num_samples: 4}
"""


@pytest.fixture
def blob_data(monkeypatch):
    seen = {}

    def load_data(shards, input_size, augment, seed, max_source_train):
        seen.update(shards=shards, input_size=input_size, augment=augment)
        return TrainData(
            BlobDataset(16, input_size, seed=1),
            BlobDataset(8, input_size, seed=2),
            BlobDataset(8, input_size, seed=3, background=90),
            BlobDataset(8, input_size, seed=4, background=90),
        )

    monkeypatch.setattr(train_command, "load_data", load_data)
    return seen


def test_train_writes_checkpoints_metrics_and_png(tmp_path, blob_data, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "run"
    argv = [
        "train",
        "--config",
        str(config),
        "--set",
        "train.lr=5e-4",
        "--data",
        "/shards",
        "--out",
        str(out),
    ]
    assert cli.main([*argv, "--no-progress"]) == 0
    assert blob_data == {"shards": "/shards", "input_size": 64, "augment": {"occlusion_prob": 0.5}}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and "domain_acc" in rows[0]
    with open(out / "metrics.csv") as f:
        assert [float(r["epoch"]) for r in csv.DictReader(f)] == [1.0, 2.0]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch_0001", "epoch_0002"]
    png = cv2.imread(str(out / "predictions.png"))
    assert png.shape == (128, 256, 3)
    assert "lr: 0.0005" in (out / "config.yaml").read_text()
    assert "target_val pdj20" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "override", "message"),
    [
        ("train: {adv_wieght: 1}", [], "adv_wieght"),
        ("modle: {}", [], "modle: unknown section"),
        ("train: {epochs: 1}", ["train.lr=-1"], "TrainConfig.lr must be"),
        ("train: {epochs: 1}", ["lr=1"], "--set wants"),
        ("data: {shard: x}", [], "data.shard: unknown key"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, text, override, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    sets = [a for o in override for a in ("--set", o)]
    assert (
        cli.main(["train", "--config", str(config), *sets, "--data", "x", "--out", str(tmp_path / "o")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
