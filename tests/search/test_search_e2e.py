"""A real search end to end: Ray Tune + Optuna + ASHA over real hourglass trials, W&B offline runs,
inspect, export, and predict with the exported file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

from models.export import load_exported, predict_images
from search.cli import main
from search.experiment import load_study
from search.results.trials import inspect
from search.tuner import launch
from tests.search.tiny import TINY, tiny_config
from tests.search.wandb_offline import config as wandb_config
from tests.search.wandb_offline import history

pytestmark = pytest.mark.slow

EPOCH_KEYS = [
    f"{split}_{name}"
    for split in ("target_val", "source_val")
    for name in (
        "pdj05",
        "pdj20",
        "pdj40",
        "pdj05_elbows",
        "pdj20_elbows",
        "pdj40_elbows",
        "rmse",
        "pck05_tllib",
        "loss",
    )
] + ["epoch", "lr", "grl_lambda", "train_loss", "train_pose_loss", "train_domain_loss"]


@pytest.fixture
def search(tiny_search):
    return tiny_search


def test_search_runs_every_trial_and_reports_every_metric(search):
    config, outcome = search
    assert outcome.num_trials == config.search.num_samples
    assert outcome.finished == outcome.num_trials and outcome.errored == 0 and not outcome.interrupted
    result = inspect(outcome.experiment_uri, plots=False)
    frames_dir = Path(outcome.experiment_uri)
    for row in result.rows:
        assert row.epochs >= 1
        progress = list(frames_dir.glob(f"*{row.trial_id}*/result.json"))[0]
        first = json.loads(progress.read_text().splitlines()[0])
        missing = [key for key in EPOCH_KEYS if key not in first]
        assert not missing, missing
        assert 0.0 <= first["target_val_pdj20"] <= 1.0 and first["target_val_rmse"] > 0


def test_first_trial_is_the_configs_own_point_and_optuna_journal_matches(search):
    config, outcome = search
    study = load_study(outcome.experiment_uri)
    assert study.study_name == "tiny"  # the experiment's name
    assert len(study.trials) == outcome.num_trials
    first = study.trials[0].params
    assert first["train.adv_weight"] == pytest.approx(config.train.adv_weight)
    assert first["augment.occlusion_prob"] == pytest.approx(config.augment.occlusion_prob)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == len(study.trials)


def test_wandb_offline_runs_hold_the_logged_pdj(search):
    _, outcome = search
    runs = sorted(Path(outcome.experiment_uri).glob("*/wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == outcome.num_trials
    for run in runs:
        trial_dir = run.parents[2]
        tune_rows = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
        logged = [row for row in history(run) if "target_val_pdj20" in row]
        assert [row["target_val_pdj20"] for row in logged] == pytest.approx(
            [row["target_val_pdj20"] for row in tune_rows]
        )
        assert "experiment" in wandb_config(run)  # the whole resolved config, not only the searched keys


def test_inspect_cli_prints_the_table_and_writes_plots(search, capsys):
    _, outcome = search
    assert main(["search", "inspect", outcome.experiment_uri]) == 0
    text = capsys.readouterr().out
    assert "PDJ.2" in text and "best trial" in text
    for name in ("learning_curves.png", "metric_vs_params.png"):
        image = cv2.imread(str(Path(outcome.experiment_uri) / name))
        assert image is not None and image.shape[0] > 100
    assert main(["search", "inspect", outcome.experiment_uri, "--json", "--no-plots"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["trials"]) == outcome.num_trials
    assert report["best"]["metrics"]["target_val_pdj20"] == max(
        t["metrics"].get("target_val_pdj20", -1) for t in report["trials"]
    )


def test_export_load_predict_round_trip(search, tmp_path, capsys):
    _, outcome = search
    out = tmp_path / "best.pt"
    assert main(["search", "export", outcome.experiment_uri, "--out", str(out), "--onnx"]) == 0
    graph = onnx.load(str(out.with_suffix(".onnx")))
    onnx.checker.check_model(graph)
    assert [i.name for i in graph.graph.input] == ["image"]
    payload = torch.load(out, weights_only=True)  # loads without trusting pickled code
    assert payload["joint_names"][0] == "right_ankle" and "target_val_pdj20" in payload["metrics"]
    best = inspect(outcome.experiment_uri, plots=False).best
    assert payload["metrics"]["target_val_pdj20"] == pytest.approx(best.metrics["target_val_pdj20"])

    model, config, meta = load_exported(out)
    image = np.random.default_rng(0).integers(0, 255, (90, 60, 3), dtype=np.uint8)
    ((joints, confidence),) = predict_images(model, config, [image])
    assert joints.shape == (14, 2) and confidence.shape == (14,) and np.isfinite(joints).all()

    picture = tmp_path / "person.png"
    cv2.imwrite(str(picture), image)
    assert main(["predict", str(out), str(picture), "--out", str(tmp_path / "pred")]) == 0
    predictions = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert set(predictions[str(picture)]["joints"]) == set(payload["joint_names"])
    assert (tmp_path / "pred" / "person.png").is_file()


def test_a_diverging_trial_is_retried_then_errored_while_the_search_finishes(
    tmp_path, shard_root, ray_session
):
    from ray.tune import ExperimentAnalysis

    # lr = 1e12 makes RMSprop blow the weights up: the loss turns non-finite and fit raises.
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": shard_root},
        train={**TINY["train"], "lr": 1e12},
        search={
            "num_samples": 3,
            "max_concurrent": 2,
            "space": {"train.lr": {"type": "choice", "values": [1e12, 0.002]}},
        },
        tracking={"wandb": "none"},
        failure={"max_failures": 1},
    )
    outcome = launch(config, name="diverging")
    assert outcome.errored >= 1 and outcome.finished >= 1
    assert outcome.errored + outcome.finished == 3 and not outcome.interrupted
    analysis = ExperimentAnalysis(outcome.experiment_uri)
    for trial in analysis.trials:
        if trial.status == "ERROR":
            assert trial.config["train.lr"] == 1e12
            assert trial.run_metadata.num_failures == 2  # the first try and one retry
            error = (Path(trial.local_path) / "error.txt").read_text()
            assert "NonFiniteLossError" in error


def test_export_never_replaces_the_experiments_files_and_replaces_its_own_only_with_overwrite(
    search, tmp_path, capsys
):
    """`search export --out <experiment>/experiment.json` once replaced the manifest with the model, exit 0."""
    _, outcome = search
    experiment = Path(outcome.experiment_uri)
    manifest = (experiment / "experiment.json").read_bytes()
    assert main(["search", "export", str(experiment), "--out", str(experiment / "experiment.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posetune: error: ") and "lies inside the input" in err[0], err
    assert (experiment / "experiment.json").read_bytes() == manifest
    assert main(["search", "inspect", str(experiment), "--json", "--no-plots"]) == 0  # still an experiment
    capsys.readouterr()

    out = tmp_path / "best.pt"
    assert main(["search", "export", str(experiment), "--out", str(out)]) == 0
    first = out.read_bytes()
    assert main(["search", "export", str(experiment), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == first
    assert main(["search", "export", str(experiment), "--out", str(out), "--overwrite", "--onnx"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.onnx", "best.pt"]  # no temporary file left
