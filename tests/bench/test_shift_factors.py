"""bench/shift_factors.py on a tiny study: the study's classic models, evaluated again on each factor's
target; its "all" row is the study's own target, so it must give the study's own numbers."""

from __future__ import annotations

import csv
import json

import pytest

from tests.bench.scripts import load_bench_script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shift_factors():
    return load_bench_script("shift_factors")


def test_gap_per_factor_from_the_studys_classic_models(tmp_path, tiny_study, ray_session, shift_factors):
    root, _ = tiny_study
    study_out = root / "study"
    with open(study_out / "runs.csv") as f:
        study_runs = {int(r["seed"]): r for r in csv.DictReader(f) if r["arm"] == "classic"}
    assert sorted(study_runs) == [0, 1]

    result = shift_factors.run(str(study_out), str(tmp_path / "factors"), ["none", "occluders", "all"])
    rows = {row["target"]: row for row in result["rows"]}
    assert list(rows) == ["none", "occluders", "all"]
    assert rows["occluders"]["shift"] == {
        "lighting": 0.0, "background": 0.0, "texture": 0.0, "occluders": 1.0, "degradation": 0.0, "framing": 0.0
    }  # fmt: skip
    for seed, run in study_runs.items():  # same models, same target, same source: the study's numbers
        assert rows["all"]["target_pdj20"][seed] == pytest.approx(float(run["test_target_pdj20"]))
        assert result["source_pdj20"][seed] == pytest.approx(float(run["test_source_pdj20"]))
    for row in rows.values():
        gaps = [result["source_pdj20"][s] - row["target_pdj20"][s] for s in study_runs]
        assert row["gap_mean"] == pytest.approx(sum(gaps) / len(gaps))
    saved = json.loads((tmp_path / "factors" / "shift_factors.json").read_text())
    assert [r["target"] for r in saved["rows"]] == ["none", "occluders", "all"]
    table = (tmp_path / "factors" / "shift_factors.md").read_text()
    assert "| occluders alone |" in table and "| all (the study's target) |" in table
