"""Selecting without target labels: search.metric takes any label-free score with its own mode, and
`data.target_labels: none` refuses the metrics that read target labels."""

import pytest

from models import metric_names as names
from search.config import config_from_dict
from search.errors import ConfigError
from search.study.run import run_study

BASE = {"data": {"demo": True}}


@pytest.mark.parametrize("metric", names.VALIDATION_METRICS)
def test_every_validation_metric_is_selectable_with_its_own_mode(metric):
    config = config_from_dict({**BASE, "search": {"metric": metric}})
    assert config.search.mode == names.mode(metric)


def test_label_free_metrics_cover_every_score_and_read_no_target_label():
    for metric in names.LABEL_FREE_METRICS:
        assert metric in names.VALIDATION_METRICS and not names.needs_target_labels(metric)
    assert names.needs_target_labels(names.SELECTION)
    assert {names.mode(m) for m in (names.DEV, names.TARGET_VAL + names.ENTROPY)} == {"min"}
    assert names.mode(names.TARGET_VAL + names.FLIP_AGREE) == "max"


def test_a_mode_that_contradicts_the_metric_is_refused():
    with pytest.raises(ConfigError, match="exp.yaml: search: mode 'max' contradicts dev_risk"):
        config_from_dict({**BASE, "search": {"metric": names.DEV, "mode": "max"}}, path="exp.yaml")


def test_no_target_labels_refuses_a_label_needing_metric_naming_the_key():
    raw = {"data": {"demo": True, "target_labels": "none"}}
    with pytest.raises(ConfigError, match=r"exp.yaml: search.metric: 'target_val_pdj20' reads target labels"):
        config_from_dict(raw, path="exp.yaml")
    for metric in names.LABEL_FREE_METRICS:
        config_from_dict({**raw, "search": {"metric": metric}})


def test_the_study_refuses_a_target_without_labels():
    config = config_from_dict(
        {"data": {"demo": True, "target_labels": "none"}, "search": {"metric": names.DEV}}
    )
    with pytest.raises(ConfigError, match="data.target_labels"):
        run_study(config)


def test_the_epoch_line_shows_a_label_free_search_metric():
    from search.console import epoch_line

    metrics = {"epoch": 1.0, names.SOURCE_VAL + names.PDJ20: 0.5, names.DEV: 0.0123, "train_loss": 1.0}
    line = epoch_line("trial t", metrics, 2, names.DEV)
    assert "target-val PDJ@0.2   -   " in line and "dev_risk 0.0123" in line
    assert "dev_risk" not in epoch_line("trial t", metrics, 2, names.SELECTION)


@pytest.mark.slow
def test_no_target_labels_hides_the_labels_a_target_has_from_the_trials(tmp_path, shard_root):
    from search.shards import build_train_data
    from tests.search.tiny import TINY, tiny_config

    data = {**TINY["data"], "shards": shard_root}
    labelled = build_train_data(tiny_config(tmp_path, data=data))
    hidden = build_train_data(
        tiny_config(tmp_path, data={**data, "target_labels": "none"}, search={"metric": names.DEV})
    )
    assert any(labelled.target_val[i]["labelled"].any() for i in range(len(labelled.target_val)))
    for split in (hidden.target_val, hidden.target_adapt):
        assert not any(split[i]["labelled"].any() or split[i]["visible"].any() for i in range(len(split)))
    assert hidden.source_val[0]["labelled"].any()  # the source keeps its labels
