"""COCO and MPII targets, in the formats users have them, through a tiny search and a tiny study."""

from __future__ import annotations

import csv
import math

import pytest

from data_pipeline.demo import write_demo
from models import metric_names as names
from search.study.run import run_study
from search.tuner import launch
from tests.data_pipeline.formats import write_coco, write_mpii
from tests.search.tiny import TINY, tiny_config

pytestmark = pytest.mark.slow

QUICK = {**TINY["train"], "epochs": 1, "steps_per_epoch": 2, "adv_weight": 0.0}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("targets")
    write_demo(root / "demo", clips=4, seed=5, frames=(4, 6), target_images=4)
    coco = write_coco(root / "coco", n=12, seed=3)
    mpii = write_mpii(root / "mpii", n=12, seed=4)
    return root, f"surreal:{root / 'demo' / 'surreal'}", coco, mpii


def _data(root, source, target, name):
    return {"demo": False, "source": source, "targets": [target], "shards": str(root / name), "size": 64}


def test_a_search_adapts_to_a_coco_target(datasets, tmp_path, ray_session):
    root, source, (annotations, images), _ = datasets
    config = tiny_config(
        tmp_path,
        data=_data(root, source, f"coco:{annotations}:{images}", "shards-coco"),
        train={**QUICK, "adv_weight": 0.2},
        search={**TINY["search"], "num_samples": 2},
        tracking={"wandb": "none"},
    )
    outcome = launch(config, name="coco")
    assert outcome.finished == 2 and outcome.errored == 0
    assert math.isfinite(outcome.best.metrics[names.SELECTION])  # COCO's seeded val split was read
    assert math.isnan(outcome.best.metrics.get(names.TARGET_VAL + names.PCKH50, math.nan))  # no head boxes


def test_a_study_on_an_mpii_target_reports_pckh_and_the_bn_arm(datasets, tmp_path, ray_session):
    root, source, _, (annotations, images, head_boxes, _) = datasets
    config = tiny_config(
        tmp_path,
        data=_data(root, source, f"mpii:{annotations}:{images}:{head_boxes}", "shards-mpii"),
        train=QUICK,
        tracking={"wandb": "none"},
    )
    out = tmp_path / "study"
    run_study(config, seeds=1, out=str(out), only=["classic", "target-bn"])
    with open(out / "runs.csv") as f:
        runs = {r["arm"]: r for r in csv.DictReader(f)}
    assert set(runs) == {"classic", "target-bn"}
    for run in runs.values():
        assert 0.0 <= float(run[names.TEST_TARGET + names.PCKH50]) <= 1.0
        assert math.isfinite(float(run[names.TEST_TARGET + names.PCK05_TLLIB]))
    assert "PCKh@0.5" in (out / "table.md").read_text()
