"""`posetune train` end to end on real Parquet shards made by the Ray Data job (session fixture)."""

import csv
import json
import shutil
from pathlib import Path

import cv2
import pytest

from search import cli

CONFIG = """
name: tiny
model: {num_stacks: 1, num_features: 16, depth: 2, input_size: 32}
train: {epochs: 2, steps_per_epoch: 2, batch_size: 4, sigma: 1.0, max_eval_samples: 8, adv_weight: 0.2,
        channels_last: false}
augment: {occlusion_prob: 0.5}
data: {demo: true, demo_clips: 6, size: 64, frames_per_clip: 4, shards: /nowhere}  # the session shards' settings
search: {num_samples: 4}
"""


def test_train_writes_checkpoints_metrics_and_png(tmp_path, shard_root, capsys):
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
        shard_root,
        "--out",
        str(out),
    ]
    assert cli.main([*argv, "--no-progress"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and "domain_acc" in rows[0]
    with open(out / "metrics.csv") as f:
        assert [float(r["epoch"]) for r in csv.DictReader(f)] == [1.0, 2.0]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch_0001", "epoch_0002"]
    png = cv2.imread(str(out / "predictions.png"))
    # 8 target-val samples, truth beside prediction, each scaled to 256 px; 2 samples (4 panels) per row
    assert png.shape == (4 * 256 + 3 * 4, 4 * 256 + 3 * 4, 3)
    assert "lr: 0.0005" in (out / "config.yaml").read_text()
    assert "target_val pdj20" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "override", "message"),
    [
        ("train: {adv_wieght: 1}\ndata: {demo: true}", [], "train.adv_wieght"),
        ("modle: {}\ndata: {demo: true}", [], "modle"),
        ("data: {demo: true}", ["train.lr=-1"], "train.lr: Input should be greater than 0"),
        ("data: {demo: true}", ["lr"], "key=value"),
        ("data: {shard: x}", [], "data.shard"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, text, override, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    sets = [a for o in override for a in ("--set", o)]
    assert cli.main(["train", "--config", str(config), *sets, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and str(config) in err and err.count("\n") == 0


def test_train_with_relative_data_and_out(shard_root, monkeypatch, tmp_path):
    monkeypatch.chdir(Path(shard_root).parent)
    Path("c.yaml").write_text(CONFIG)
    name = Path(shard_root).name
    argv = ["train", "--config", "c.yaml", "--set", "train.epochs=1", "--data", name, "--out", "rel-run"]
    try:
        assert cli.main([*argv, "--no-progress"]) == 0
        assert (Path("rel-run") / "checkpoints" / "epoch_0001").is_dir()
    finally:
        shutil.rmtree("rel-run", ignore_errors=True)
        Path("c.yaml").unlink()
