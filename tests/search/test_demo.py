"""`posetune demo` end to end on a tiny budget: data, Ray Data, search, inspect, export, summary."""

import json

import pytest
import torch
import yaml

from search.cli import main
from tests.search.tiny import tiny_config

pytestmark = pytest.mark.slow


def test_demo_runs_every_stage_and_exports_the_best_model(tmp_path, ray_session, capsys):
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
    assert best >= summary["default_trial"]["metrics"]["target_val_pdj20"]
    assert (out / "shards" / "centred" / "manifest.json").is_file()
    payload = torch.load(out / "best.pt", weights_only=True)
    assert payload["metrics"]["target_val_pdj20"] == pytest.approx(best)
    printed = capsys.readouterr().out
    assert "best trial" in printed and "time:" in printed
