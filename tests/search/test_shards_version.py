"""A search pointed at shards written before schema 2 stops before Ray starts, saying how to fix it."""

import json

import pytest

from data_pipeline.errors import DataError
from search.shards import prepare_shards
from tests.search.tiny import TINY, tiny_config


def test_old_shards_are_refused_before_any_trial(tmp_path):
    old = tmp_path / "shards"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"counts": {"source": {"train": 4}}, "settings": {}}))
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": str(old)})
    with pytest.raises(DataError, match="re-run `posetune data enhance`"):
        prepare_shards(config)
