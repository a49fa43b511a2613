"""The study's tables from constructed per-seed runs: each verdict, the gap, the noise and the files."""

from __future__ import annotations

import csv
import json

import pytest

from search.study.report import (
    BASELINE,
    LABEL_FREE_PICK,
    LABEL_FREE_SELECTION,
    StudyResult,
    classic_gap,
    effects,
    format_protocols,
    noise,
    protocols,
    write_outputs,
)

SEEDS = [0, 1, 2, 3, 4]
CLASSIC = [0.20, 0.30, 0.25, 0.15, 0.35]  # seed-to-seed std 7.9 points


def _runs():
    """classic; 'helper' +4 points on every seed (±0.2); 'harm' −6 (±0.3); 'noise' ±3 alternating."""
    shifts = {
        BASELINE: [0.0] * 5,
        "helper": [0.040, 0.042, 0.038, 0.041, 0.039],
        "harm": [-0.060, -0.057, -0.063, -0.060, -0.060],
        "noise": [0.03, -0.03, 0.03, -0.03, 0.0],
    }
    runs = []
    for arm, shift in shifts.items():
        for seed, base, d in zip(SEEDS, CLASSIC, shift, strict=True):
            runs.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "best_epoch": 3.0,
                    "test_target_pdj20": base + d,
                    "test_target_pdj20_elbows": base + d,
                    "test_source_pdj20": base + 0.15,  # the classic gap: 15 points on every seed
                    "test_target_pdj20_eval_se": 0.01,
                }
            )
    return runs


@pytest.fixture
def study(tmp_path):
    arms = {a: {} for a in (BASELINE, "helper", "harm", "noise")}
    return StudyResult("mem://study", str(tmp_path / "out"), arms, SEEDS, _runs())


def test_verdicts_follow_the_paired_confidence_interval(study):
    rows = {row["arm"]: row for row in effects(study)}
    assert set(rows) == {"helper", "harm", "noise"}
    target = "test_target_pdj20"
    assert rows["helper"][target]["verdict"] == "helps"
    assert rows["helper"][target]["mean"] == pytest.approx(0.04)
    assert 0 < rows["helper"][target]["low"] < 0.04 < rows["helper"][target]["high"]
    assert rows["harm"][target]["verdict"] == "hurts"
    assert rows["noise"][target]["verdict"] == "no detectable effect"
    assert rows["noise"][target]["low"] < 0 < rows["noise"][target]["high"]
    # the source moved by the same amount in every arm: no effect there, and the interval is a point
    assert rows["helper"]["test_source_pdj20"]["mean"] == pytest.approx(0.0)


def test_gap_and_noise(study):
    gap = classic_gap(study)
    assert gap.mean == pytest.approx(0.15) and gap.n == 5
    rows = {row["arm"]: row for row in noise(study)}
    assert rows[BASELINE]["seed_std"] == pytest.approx(0.0790569, rel=1e-5)
    assert rows[BASELINE]["eval_se"] == pytest.approx(0.01)
    assert "ci_half_width" not in rows[BASELINE]
    assert rows["helper"]["ci_half_width"] < 0.005 < rows["noise"]["ci_half_width"]


def test_files_carry_the_verdicts(study):
    files = write_outputs(study)
    out = study.out
    markdown = open(f"{out}/table.md").read()
    assert "+4.0 [" in markdown and "**helps**" in markdown and "**hurts**" in markdown
    assert "**no detectable effect**" in markdown and "(baseline)" in markdown
    assert (
        "Domain gap of classic (source test − target test PDJ@0.2, same model, paired by seed): 15.0"
        in markdown
    )
    with open(f"{out}/effects.csv") as f:
        table = list(csv.DictReader(f))
    verdicts = {(r["arm"], r["metric"]): r["verdict"] for r in table}
    assert verdicts[("harm", "test_target_pdj20")] == "hurts"
    saved = json.loads(open(f"{out}/study.json").read())
    assert saved["classic_gap_pdj20"]["mean"] == pytest.approx(0.15)
    assert {"effects.png", "per_joint.png"} <= {f.rsplit("/", 1)[1] for f in files}
    assert open(f"{out}/effects.png", "rb").read()[:4] == b"\x89PNG"


def test_a_single_seed_gives_a_table_without_intervals(tmp_path):
    runs = [r for r in _runs() if r["seed"] == 0 and r["arm"] in (BASELINE, "helper")]
    study = StudyResult("mem://s", str(tmp_path / "one"), {BASELINE: {}, "helper": {}}, [0], runs)
    write_outputs(study)
    rows = {row["arm"]: row for row in effects(study)}
    assert rows["helper"]["test_target_pdj20"]["verdict"] == "too few seeds"


def test_both_selection_protocols_side_by_side_with_the_cost_of_no_labels(study):
    for run in study.runs:  # the label-free pick loses 2 points on every seed of 'helper', none elsewhere
        run[LABEL_FREE_PICK + "test_target_pdj20"] = run["test_target_pdj20"] - (0.02 if run["arm"] == "helper" else 0)
    rows = {row["arm"]: row for row in protocols(study)}
    assert rows["helper"]["regret"].mean == pytest.approx(0.02)
    assert rows[BASELINE]["regret"].mean == pytest.approx(0.0)
    assert rows["helper"]["label_free"][0] == pytest.approx(rows["helper"]["labelled"][0] - 0.02)
    table = format_protocols(study)
    assert "| helper | " in table and "| 2.0 [" in table and f"epoch by {LABEL_FREE_SELECTION} (no target label)" in table
    write_outputs(study)
    saved = json.loads((tmp_out(study) / "study.json").read_text())["protocols"]
    assert [r["arm"] for r in saved] == list(study.arms)


def tmp_out(study):
    from pathlib import Path

    return Path(study.out)
