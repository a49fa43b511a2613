"""`posetune study` on a tiny budget: every arm x seed trains as a Tune trial and lands in the tables."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import yaml

from search.config import config_from_dict
from search.experiment import EXPERIMENT_MANIFEST
from search.study.report import COLUMNS, LABEL_FREE_SELECTION
from search.study.run import BEST_ARM, DEFAULT_ARMS, arm_overrides, evaluate_on_test, select_arms
from tests.search.tiny import STUDY_ARMS, TINY, tiny_config


def test_arms_follow_the_study():
    config = config_from_dict(
        {**TINY, "augment": {"occlusion_prob": 0.0}, "train": {**TINY["train"], "adv_weight": 0.0}}
    )
    arms = arm_overrides(config, {"train.lr": 0.001})
    assert arms["classic"] == {
        "data.brightness": "none",
        "augment.occlusion_prob": 0.0,
        "train.adv_weight": 0.0,
        "train.target_bn": "shared",
        "train.target_in_bn": False,
    }
    # the BatchNorm effect of the adversarial arms alone, and their gradient reversal alone
    assert arms["target-bn"] == {**arms["classic"], "train.target_in_bn": True}
    assert arms["adversarial-frozen-bn"] == {**arms["adversarial"], "train.target_bn": "frozen"}
    assert arms["enhanced"]["data.brightness"] == "mean" and arms["enhanced"]["augment.occlusion_prob"] == 0.3
    # each lever alone: classic with one setting changed
    assert arms["brightness"] == {**arms["classic"], "data.brightness": "mean"}
    assert arms["brightness-reinhard"] == {**arms["classic"], "data.brightness": "reinhard"}
    assert arms["occlusion"] == {**arms["classic"], "augment.occlusion_prob": 0.3}
    assert arms["adversarial"]["train.adv_weight"] == 0.1 and arms["adversarial"]["data.brightness"] == "none"
    assert arms["enhanced+adversarial"]["train.adv_weight"] == 0.1
    assert arms[BEST_ARM] == {"train.lr": 0.001}
    for overrides in arms.values():
        config.with_params(overrides)  # every arm is a valid config


def test_classic_always_runs_first_and_the_default_arms_are_the_levers_alone():
    arms = arm_overrides(config_from_dict(TINY), {"train.lr": 0.001})
    assert list(select_arms(arms, None)) == [*DEFAULT_ARMS, BEST_ARM]
    assert list(select_arms(arms, ["occlusion", "brightness"])) == ["classic", "occlusion", "brightness"]
    with pytest.raises(Exception, match="unknown arm"):
        select_arms(arms, ["brightnes"])


@pytest.mark.slow
def test_study_command_gives_a_complete_table(tiny_study):
    root, printed = tiny_study
    out = root / "study"
    # one source-only model, pretrained once, recorded, and the checkpoint every arm x seed started from
    assert printed.count("warm start: pretraining") == 1
    (study_folder,) = (root / "runs").glob("*-study-*")
    recorded = json.loads((study_folder / EXPERIMENT_MANIFEST).read_text())
    assert recorded["warm_start"]["made_by"] == "pretrain"
    assert recorded["config"]["train"]["init_from"] == recorded["warm_start"]["checkpoint"]
    assert all(f"| {arm} | 2 |" in printed for arm in STUDY_ARMS)
    assert "| Δ target PDJ@.2 all [95 % CI] | Δ target PDJ@.2 elbows [95 % CI] |" in printed  # the effects
    assert printed.count("(baseline)") == 3 and printed.count("**") >= 2 * 3 * (len(STUDY_ARMS) - 1)  # verdicts
    # progress: a line per trial start (arm and seed) and per trial-epoch; the wall time in the summary
    assert all(f"started: arm={arm}, train.seed={seed}" in printed for arm in STUDY_ARMS for seed in (0, 1))
    assert printed.count(" epoch 2/2: source-val PDJ@0.2 ") == 2 * len(STUDY_ARMS)
    assert json.loads((out / "study.json").read_text())["wall_s"] > 0

    with open(out / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert sorted((r["arm"], int(r["seed"])) for r in runs) == sorted((a, s) for a in STUDY_ARMS for s in (0, 1))
    for run in runs:
        for split in ("test_target_", "test_source_"):
            for _, suffix in COLUMNS:
                assert math.isfinite(float(run[split + suffix])), (run["arm"], split + suffix)
        assert 1 <= float(run["best_epoch"]) <= 2
        assert float(run["test_target_pdj20_eval_se"]) >= 0  # the bootstrap SE over the test images
        assert float(run["test_target_pdj20_joint_left_elbow"]) >= 0
        # the second protocol: the epoch the label-free score picks, scored on target test
        free_epoch, free_score = float(run["label_free_pick_epoch"]), float(run["label_free_pick_test_target_pdj20"])
        assert 1 <= free_epoch <= 2 and math.isfinite(free_score)
        if free_epoch == float(run["best_epoch"]):
            assert free_score == float(run["test_target_pdj20"])

    # every epoch of every run, with its own target-test score: what scores the selection metrics
    assert str(out / "checkpoints.csv") in printed  # listed with the files the study wrote
    with open(out / "checkpoints.csv") as f:
        checkpoints = list(csv.DictReader(f))
    assert sorted((r["arm"], int(r["seed"]), int(r["epoch"])) for r in checkpoints) == sorted(
        (a, s, e) for a in STUDY_ARMS for s in (0, 1) for e in (1, 2)
    )
    by_run = {(r["arm"], int(r["seed"]), int(r["epoch"])): r for r in checkpoints}
    for run in runs:  # the labelled pick's row holds the very score the run reports for it
        picked = by_run[run["arm"], int(run["seed"]), int(float(run["best_epoch"]))]
        assert float(picked["test_target_pdj20"]) == float(run["test_target_pdj20"])
        assert float(picked["target_val_pdj20"]) >= max(
            float(r["target_val_pdj20"]) for k, r in by_run.items() if k[:2] == (run["arm"], int(run["seed"]))
        )
    assert all(math.isfinite(float(r[LABEL_FREE_SELECTION])) for r in checkpoints)

    with open(out / "table.csv") as f:
        table = list(csv.DictReader(f))
    assert [(r["arm"], r["split"]) for r in table] == [
        (a, s) for s in ("target test", "source test") for a in STUDY_ARMS
    ]
    for row in table:
        assert row["n_seeds"] == "2"
        for _, suffix in COLUMNS:
            assert math.isfinite(float(row[f"{suffix}_mean"])) and float(row[f"{suffix}_std"]) >= 0
    _one_copy_of_the_weights_per_checkpoint_and_the_best_epoch_kept(root / "runs")
    markdown = (out / "table.md").read_text()
    assert "Target domain, test split" in markdown and "Source domain, test split" in markdown
    assert "Effect of each arm" in markdown and "Noise" in markdown
    assert f"epoch by {LABEL_FREE_SELECTION} (no target label)" in markdown and f"epoch by {LABEL_FREE_SELECTION}" in printed
    for name in ("effects.png", "per_joint.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _one_copy_of_the_weights_per_checkpoint_and_the_best_epoch_kept(storage):
    (experiment,) = [p for p in storage.iterdir() if p.is_dir()]
    trials = [p for p in experiment.iterdir() if (p / "result.json").is_file()]
    assert len(trials) == 2 * len(STUDY_ARMS)
    for trial in trials:
        results = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
        values = [r["target_val_pdj20"] for r in results]
        best_epoch = int(results[-1]["best_epoch"])
        last_max = len(values) - 1 - int(np.argmax(values[::-1]))  # of equals the later, as Tune keeps
        assert best_epoch == int(results[last_max]["epoch"])  # found from the reported metrics
        kept = {}
        for checkpoint in trial.glob("checkpoint_*"):
            assert [p.name for p in checkpoint.rglob("state.pt")] == ["state.pt"]  # no second copy inside
            epoch = int(json.loads((checkpoint / "metrics.json").read_text())["epoch"])
            kept[epoch] = checkpoint
            best_then = json.loads((checkpoint / "best.json").read_text())  # the best as of that epoch
            assert best_then["value"] == max(values[:epoch]) and best_then["epoch"] <= epoch
        assert {best_epoch, len(results)} <= set(kept)  # Tune kept the best epoch's weights and the latest


@pytest.mark.parametrize("name", ["study_surreal_lsp", "study_demo"])
def test_shipped_study_configs_are_valid(name):
    from search.config import load_config

    config = load_config(name)
    assert config.scheduler.type == "none"
    for overrides in arm_overrides(config).values():
        config.with_params(overrides)


# What the study's demo config may set apart from demo.yaml: its data, eval sets, budget and tracking.
STUDY_ONLY = {"data", "search", "scheduler", "tracking", "name", "warm_start", "train.max_eval_samples", "train.epochs"}


def test_the_study_demo_trains_the_demos_network_the_demos_way():
    from search.config import load_config

    demo, study = load_config("demo").to_dict(), load_config("study_demo").to_dict()
    assert study["model"] == demo["model"]
    for section in ("train", "augment", "resources", "failure", "storage"):
        for key, value in demo[section].items():
            if f"{section}.{key}" not in STUDY_ONLY:
                assert study[section][key] == value, f"{section}.{key}: study_demo.yaml differs from demo.yaml"
    for key in ("demo_clips", "demo_frames", "size", "demo_seed", "shift"):
        assert study["data"][key] == demo["data"][key], f"data.{key}"


def _two_epochs_then_fetch_the_best(config):
    import tempfile
    from pathlib import Path

    from ray import tune

    from search.study.run import _stored_checkpoint

    for epoch, value in ((1, 0.5), (2, 0.1)):  # epoch 1 is the best; only Tune's storage has it later
        folder = Path(tempfile.mkdtemp())
        (folder / "metrics.json").write_text(json.dumps({"epoch": epoch}))
        (folder / "state.pt").write_bytes(bytes([epoch]) * 64)
        tune.report(
            {"target_val_pdj20": value, "epoch": epoch}, checkpoint=tune.Checkpoint.from_directory(folder)
        )
    got = _stored_checkpoint(1, Path(tempfile.mkdtemp()) / "best")
    tune.report(
        {
            "found": json.loads((got / "metrics.json").read_text())["epoch"],
            "bytes": (got / "state.pt").read_bytes()[0],
        }
    )


def test_a_retried_trial_fetches_its_best_epoch_from_storage(tmp_path, ray_session):
    """What a trial retried on a fresh node does: the best epoch's weights come from Tune's kept copy."""
    import ray
    from ray import tune

    from search.study.run import SELECTION_METRIC

    ray.init()  # joins the suite's cluster (RAY_ADDRESS)
    results = tune.Tuner(
        _two_epochs_then_fetch_the_best,
        run_config=tune.RunConfig(
            name="fetch",
            storage_path=str(tmp_path),
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute=SELECTION_METRIC, checkpoint_score_order="max"
            ),
        ),
    ).fit()
    (result,) = results
    assert result.error is None, result.error
    assert result.metrics["found"] == 1 and result.metrics["bytes"] == 1


@pytest.mark.slow
def test_an_interrupted_study_resumes_and_each_seed_keeps_its_best_validation_epoch(tmp_path, shard_root):
    """Ctrl-C mid-study exits non-zero; `--resume` finishes it; every trial's test metrics are those of
    its epoch best on target validation (read back from Tune's own per-epoch results)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.search.tiny import kill_process_group

    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "epochs": 3, "steps_per_epoch": 2},
        search={**TINY["search"], "max_concurrent": 1},
        tracking={"wandb": "none"},
    )
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    root = Path(__file__).resolve().parents[3]
    args = [sys.executable, "-m", "search.cli", "study", "--config", str(path), "--seeds", "2", "--arms",
            "classic", "--name", "s", "--out", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root), "TUNE_GLOBAL_CHECKPOINT_S": "0"}
    study_dir = tmp_path / "runs" / "s"
    driver = subprocess.Popen(args, cwd=root, env=env, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not list(study_dir.glob("*/result.json")):
            assert driver.poll() is None, driver.stdout.read()
            time.sleep(0.5)
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=300)
    finally:
        kill_process_group(driver)
    assert driver.returncode == 3 and "--resume" in output, output[-2000:]  # interrupted: resume it

    resumed = subprocess.run([*args, "--resume"], cwd=root, env=env, text=True, capture_output=True, timeout=600)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    with open(tmp_path / "out" / "runs.csv") as f:
        runs = {int(r["seed"]): r for r in csv.DictReader(f)}
    assert sorted(runs) == [0, 1]
    for result in study_dir.glob("*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        seed = int(rows[0]["config"]["train.seed"])
        by_epoch = {int(row["epoch"]): row["target_val_pdj20"] for row in rows}
        best_epoch = max(sorted(by_epoch), key=lambda e: (by_epoch[e], e))  # of equals, the later
        assert int(float(runs[seed]["best_epoch"])) == best_epoch, (seed, by_epoch)
        # Tune keeps that epoch's checkpoint; evaluated again, its weights give the table's test figures.
        (best,) = [
            c for c in result.parent.glob("checkpoint_*")
            if json.loads((c / "metrics.json").read_text())["epoch"] == best_epoch
        ]  # fmt: skip
        arm = config.with_params({**arm_overrides(config)["classic"], "train.seed": seed})
        again = evaluate_on_test(str(best), arm, arm.data.brightness)
        assert float(runs[seed]["test_target_pdj20"]) == pytest.approx(float(again["test_target_pdj20"]))
