"""A search with no target labels at all: an unlabelled folder of photos as the target, trials selected by a
label-free score, then inspect and export (real Ray Data enhancement, Ray Tune, Optuna)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from data_pipeline.loader import ShardDataset
from models import metric_names as names
from search.cli import main
from search.results.trials import format_table, inspect
from search.shards import demo_data_dir, shard_dir
from search.tuner import launch
from tests.search.tiny import TINY, tiny_config

pytestmark = pytest.mark.slow
METRIC = names.TARGET_VAL + names.FLIP_AGREE


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory, shard_root):
    import ray

    tmp = tmp_path_factory.mktemp("unlabelled")
    # The session's demo set (its folder named by the shards' own rule): its source clips, and its
    demo = Path(demo_data_dir(tiny_config(tmp, data={**TINY["data"], "shards": shard_root})))
    photos = tmp / "photos"  # target photos, without their joints.mat, as a user's own folder would be
    photos.mkdir()
    for image in sorted((demo / "lsp" / "images").glob("*.jpg")):
        shutil.copy(image, photos / image.name)
    config = tiny_config(
        tmp,
        data={
            **TINY["data"],
            "demo": False,
            "source": f"surreal:{demo}/surreal",
            "targets": [f"folder:{photos}"],
            "target_labels": "none",
            "shards": str(tmp / "shards"),
        },
        search={
            "metric": METRIC,
            "num_samples": 2,
            "max_concurrent": 2,
            "space": {"train.adv_weight": {"type": "uniform", "low": 0.0, "high": 1.0}},
        },
        tracking={"wandb": "none"},
    )
    try:
        outcome = launch(config, name="unlabelled")
    finally:
        ray.shutdown()
    return config, outcome


def test_an_unlabelled_folder_searches_by_a_label_free_score_and_reports_no_labelled_target_metric(unlabelled):
    config, outcome = unlabelled
    assert outcome.finished == 2 and outcome.errored == 0 and not outcome.interrupted
    target_val = ShardDataset(shard_dir(config), "target", "val", config.model.input_size)
    assert len(target_val) > 0 and not any(target_val[i]["labelled"].any() for i in range(len(target_val)))
    rows = [
        json.loads(line)
        for path in Path(outcome.experiment_uri).glob("*/result.json")
        for line in path.read_text().splitlines()
    ]
    assert len(rows) >= 2
    for row in rows:
        assert not [k for k in row if k in names.LABELLED_TARGET_METRICS]
        for key in (METRIC, names.DEV, names.DOMAIN_PROBE_ACC, names.SOURCE_VAL + names.PDJ20):
            assert math.isfinite(row[key]), key
    result = inspect(outcome.experiment_uri, plots=False)
    assert result.metric == METRIC and result.mode == "max"
    assert result.best.metrics[METRIC] == max(r.metrics[METRIC] for r in result.rows)
    table = format_table(result)
    assert "flip" in table and "DEV" in table and f"best trial: {result.best.trial_id}" in table


def test_the_best_by_the_label_free_score_exports(unlabelled, tmp_path):
    _, outcome = unlabelled
    out = tmp_path / "best.pt"
    assert main(["search", "export", outcome.experiment_uri, "--out", str(out)]) == 0
    payload = torch.load(out, weights_only=True)
    best = inspect(outcome.experiment_uri, plots=False).best
    assert payload["metrics"][METRIC] == pytest.approx(best.metrics[METRIC])
    assert names.SELECTION not in payload["metrics"]
