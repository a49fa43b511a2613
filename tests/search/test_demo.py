"""`posetune demo` end to end on a tiny budget: data, Ray Data, search, inspect, export, summary."""

import json
from pathlib import Path

import cv2
import pytest
import torch
import yaml

from data_pipeline.manifest import SHARDS_MANIFEST
from search.cli import main
from tests.search.tiny import tiny_config

pytestmark = pytest.mark.slow


def test_demo_runs_every_stage_and_exports_the_best_model(tmp_path, local_ray, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tmp_path, tracking={"wandb": "none"}).to_dict()))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--config", str(config)]) == 0

    summary = json.loads((out / "demo-summary.json").read_text())
    assert summary["interrupted"] is False
    assert set(summary["timings"]) >= {"ray_start_s", "data_s", "search_s", "total_s"}
    # the config's own values were the first trial: the baseline the best one is compared with
    assert summary["default_trial"]["params"]["train.adv_weight"] == pytest.approx(0.1)
    best = summary["best"]["metrics"]["target_val_pdj20"]
    # Checked against Tune's raw per-trial results: the best trial is the one with the highest epoch of
    # all, and the baseline's figure is its own best epoch (not a copy of the best trial's).
    reported = {}
    for result in Path(summary["experiment"]).glob("*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        reported[rows[0]["trial_id"]] = max(row["target_val_pdj20"] for row in rows)
    assert len(reported) >= 2
    assert reported[summary["best"]["trial_id"]] == pytest.approx(max(reported.values()))  # ties allowed
    assert best == pytest.approx(max(reported.values()))
    default = summary["default_trial"]
    assert default["metrics"]["target_val_pdj20"] == pytest.approx(reported[default["trial_id"]])
    assert [p.parent.name.split("-")[0] for p in (out / "shards").glob(f"*/{SHARDS_MANIFEST}")] == ["centred"]
    payload = torch.load(out / "best.pt", weights_only=True)
    assert payload["metrics"]["target_val_pdj20"] == pytest.approx(best)
    printed = capsys.readouterr().out
    assert "best trial" in printed and "time:" in printed
    # the label-free scores beside the labelled ones, in the summary and its file
    assert "its label-free scores (no target label read): src PDJ.2 " in printed and "DEV " in printed
    assert {"dev_risk", "target_val_flip_agree"} <= set(summary["best"]["metrics"])
    # one line per trial-epoch from the driver, and none of Ray's per-checkpoint messages
    assert "epoch 1/2: source-val PDJ@0.2" in printed and "Checkpoint successfully created" not in printed
    for split in ("target-val", "source-val"):  # truth beside prediction, 256 px each, 2 samples per row
        picture = cv2.imread(str(out / f"best-{split}.png"))
        assert picture.shape[1] == 4 * 256 + 3 * 4 and picture.shape[0] >= 256
