"""Shards and experiments written by older posetune versions: refused with the fix, or still read."""

import json

import pytest

from data_pipeline.errors import DataError
from data_pipeline.manifest import OLD_SHARDS_MANIFEST, SHARDS_MANIFEST
from search.experiment import (
    EXPERIMENT_MANIFEST,
    OLD_EXPERIMENT_MANIFEST,
    read_experiment_manifest,
    write_manifest_dict,
)
from search.shards import prepare_shards
from tests.search.tiny import TINY, tiny_config


def test_old_shards_are_refused_before_any_trial(tmp_path):
    old = tmp_path / "shards"
    old.mkdir()
    (old / SHARDS_MANIFEST).write_text(json.dumps({"counts": {"source": {"train": 4}}, "settings": {}}))
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": str(old)})
    with pytest.raises(DataError, match="re-run `posetune data enhance`"):
        prepare_shards(config)


def test_shards_under_the_old_manifest_name_are_refused_with_the_fix(tmp_path):
    old = tmp_path / "shards"
    old.mkdir()
    (old / OLD_SHARDS_MANIFEST).write_text(json.dumps({"schema_version": 1, "counts": {}, "settings": {}}))
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": str(old)})
    with pytest.raises(DataError, match=r"older posetune \(manifest.json\); re-run `posetune data enhance`"):
        prepare_shards(config)


def test_an_experiment_manifest_under_the_old_name_is_still_read(tmp_path):
    """Experiments launched before the manifests got distinct names still inspect and resume."""
    write_manifest_dict(str(tmp_path), {"format": "posetune-experiment", "config": {"name": "old"}})
    (tmp_path / EXPERIMENT_MANIFEST).rename(tmp_path / OLD_EXPERIMENT_MANIFEST)
    assert read_experiment_manifest(str(tmp_path))["config"] == {"name": "old"}
