"""`posetune study` on a tiny budget: every arm x seed trains as a Tune trial and lands in the tables."""

from __future__ import annotations

import csv
import math

import pytest
import yaml

from search.cli import main
from search.config import config_from_dict
from search.study import BEST_ARM, COLUMNS, arm_overrides
from tests.search.tiny import TINY, tiny_config

ARMS = ["classic", "enhanced", "adversarial"]


def test_arms_follow_the_study():
    config = config_from_dict(
        {**TINY, "augment": {"occlusion_prob": 0.0}, "train": {**TINY["train"], "adv_weight": 0.0}}
    )
    arms = arm_overrides(config, {"train.lr": 0.001})
    assert arms["classic"] == {
        "data.brightness": False,
        "augment.occlusion_prob": 0.0,
        "train.adv_weight": 0.0,
        "train.target_bn": "shared",
        "train.target_in_bn": False,
    }
    # the BatchNorm effect of the adversarial arms alone, and their gradient reversal alone
    assert arms["target-bn"] == {**arms["classic"], "train.target_in_bn": True}
    assert arms["adversarial-frozen-bn"] == {**arms["adversarial"], "train.target_bn": "frozen"}
    assert arms["enhanced"]["data.brightness"] and arms["enhanced"]["augment.occlusion_prob"] == 0.3
    assert arms["adversarial"]["train.adv_weight"] == 0.1 and not arms["adversarial"]["data.brightness"]
    assert arms["enhanced+adversarial"]["train.adv_weight"] == 0.1
    assert arms[BEST_ARM] == {"train.lr": 0.001}
    for overrides in arms.values():
        config.with_params(overrides)  # every arm is a valid config


@pytest.mark.slow
def test_study_command_gives_a_complete_table(tmp_path, shard_root, ray_session, capsys):
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 2, "steps_per_epoch": 2},
        tracking={"wandb": "none"},
    )
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    out = tmp_path / "study"
    code = main(["study", "--config", str(path), "--seeds", "2", "--arms", ",".join(ARMS), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert all(f"| {arm} | 2 |" in printed for arm in ARMS)

    with open(out / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert sorted((r["arm"], int(r["seed"])) for r in runs) == sorted((a, s) for a in ARMS for s in (0, 1))
    for run in runs:
        for split in ("test_target_", "test_source_"):
            for _, suffix in COLUMNS:
                assert math.isfinite(float(run[split + suffix])), (run["arm"], split + suffix)
        assert 1 <= float(run["best_epoch"]) <= 2
        assert float(run["test_target_pdj20_joint_left_elbow"]) >= 0

    with open(out / "table.csv") as f:
        table = list(csv.DictReader(f))
    assert [(r["arm"], r["split"]) for r in table] == [
        (a, s) for s in ("target test", "source test") for a in ARMS
    ]
    for row in table:
        assert row["n_seeds"] == "2"
        for _, suffix in COLUMNS:
            assert math.isfinite(float(row[f"{suffix}_mean"])) and float(row[f"{suffix}_std"]) >= 0
    markdown = (out / "table.md").read_text()
    assert "Target domain, test split" in markdown and "Source domain, test split" in markdown
    for name in ("bars.png", "per_joint.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shipped_real_data_study_config_is_valid():
    from search.config import load_config

    config = load_config("study_surreal_lsp")
    assert config.scheduler.type == "none"
    for overrides in arm_overrides(config).values():
        config.with_params(overrides)
