"""The label-free selection scores (bench.selection): the weighted Spearman of Musgrave et al. 2022
weighs the top of the validator's ranking, and the selection regret is the test score lost by the pick."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bench.scripts import load_bench_script


@pytest.fixture(scope="module")
def selection():
    return load_bench_script("selection")


def test_weighted_spearman_known_cases(selection):
    x = np.arange(10.0)
    assert selection.weighted_spearman(x, x) == pytest.approx(1.0)
    assert selection.weighted_spearman(x, -x) == pytest.approx(-1.0)
    # One swap at the top of the score costs more than the same swap at the bottom.
    top = x.copy()
    top[[8, 9]] = top[[9, 8]]
    bottom = x.copy()
    bottom[[0, 1]] = bottom[[1, 0]]
    assert selection.weighted_spearman(x, top) < selection.weighted_spearman(x, bottom) < 1.0
    # By hand: scores 1, 2, 3 (weights 1/9, 4/9, 1), truth ranks 1, 3, 2.
    w = np.array([1, 4, 9]) / 9
    a, b = np.array([1.0, 2, 3]), np.array([1.0, 3, 2])
    ma, mb = np.average(a, weights=w), np.average(b, weights=w)
    cov = np.average((a - ma) * (b - mb), weights=w)
    expected = cov / np.sqrt(np.average((a - ma) ** 2, weights=w) * np.average((b - mb) ** 2, weights=w))
    assert selection.weighted_spearman(a, np.array([10.0, 30, 20])) == pytest.approx(expected)


def test_regret_on_a_toy_table(selection):
    oracle = np.array([0.30, 0.40, 0.35, 0.20])  # target-val picks checkpoint 1
    test = np.array([0.31, 0.38, 0.36, 0.25])
    assert selection.regret(np.array([0.0, 1, 0, 0]), oracle, test) == pytest.approx(0.0)
    assert selection.regret(np.array([0.0, 0, 1, 0]), oracle, test) == pytest.approx(2.0)  # 0.38 - 0.36
    assert selection.regret(np.array([0.0, 0, 0, 1]), oracle, test) == pytest.approx(13.0)
    # Within runs: run 0 = checkpoints 0, 1; run 1 = 2, 3. Oracle picks 1 and 2; the score picks 0 and 2.
    runs = np.array([0, 0, 1, 1])
    score = np.array([1.0, 0, 1, 0])
    assert selection.epoch_regret(score, oracle, test, runs) == pytest.approx((7.0 + 0.0) / 2)


def test_lower_is_better_metrics_are_flipped(selection):
    assert list(selection.oriented("target_val_entropy", np.array([1.0, 2.0]))) == [-1.0, -2.0]
    assert list(selection.oriented("target_val_flip_agree", np.array([1.0, 2.0]))) == [1.0, 2.0]


def test_selection_end_to_end_on_a_toy_table(selection):
    rng = np.random.default_rng(0)
    runs = []
    for i in range(12):
        val = rng.uniform(0.2, 0.4, 3)
        runs.append({"index": i, "seed": 0, "status": "TERMINATED", "epochs": 3, "curves": {
            "target_val_pdj20": val.tolist(), "test_target_pdj20": (val + rng.normal(0, 0.01, 3)).tolist(),
            "target_val_flip_agree": (val + rng.normal(0, 0.05, 3)).tolist(),
            "target_val_entropy": (-val).tolist()}})  # fmt: skip
    cols = selection.checkpoints({"runs": runs})
    out = selection.with_ci(cols, "target_val_entropy", boots=20)
    assert out["wspearman_val"]["value"] == pytest.approx(1.0)  # entropy = -val exactly: oriented, perfect
    assert out["regret_table"]["value"] == pytest.approx(0.0)
    assert out["checkpoints"] == 36
    oracle = selection.with_ci(cols, "target_val_pdj20", boots=20)
    assert oracle["regret_pool6"]["value"] == 0.0 and oracle["regret_epoch"]["value"] == 0.0


def test_a_studys_checkpoints_are_scored_run_by_run(selection, tmp_path):
    """`--study`: a study's checkpoints.csv (arm x seed x epoch), each run its own resampled unit, no pool6."""
    import csv
    import json

    rng = np.random.default_rng(1)
    rows = []
    for arm in ("classic", "adversarial"):
        for seed in range(3):
            val = rng.uniform(0.2, 0.4, 4)
            for epoch in range(4):
                rows.append({"arm": arm, "seed": seed, "epoch": epoch + 1, "target_val_pdj20": val[epoch],
                             "test_target_pdj20": val[epoch] + rng.normal(0, 0.01),
                             "target_val_entropy": -val[epoch], "source_val_pdj20": rng.uniform()})  # fmt: skip
    path = tmp_path / "checkpoints.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert selection.main(["--study", str(path), "--bootstrap", "20", "--out", str(tmp_path), "--name", "s"]) == 0
    result = json.loads((tmp_path / "s.json").read_text())
    assert result["arms"] == ["classic", "adversarial"] and result["runs"] == 6 and result["checkpoints"] == 24
    entropy = result["metrics"]["target_val_entropy"]
    assert "regret_pool6" not in entropy  # pools of configurations mean nothing over 2 arms
    assert entropy["regret_epoch"]["value"] == 0.0 and entropy["wspearman_val"]["value"] == pytest.approx(1.0)
    assert result["metrics"]["source_val_pdj20"]["regret_epoch"]["value"] > 0  # a random score loses
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
