"""The demo set a config asks for: its target size is a config key, and a different size is another set."""

from __future__ import annotations

import json
from pathlib import Path

from search.shards import demo_data_dir, shard_dir, source_and_targets
from tests.search.tiny import tiny_config


def test_demo_target_images_sets_the_target_splits(tmp_path):
    config = tiny_config(tmp_path, data={"demo": True, "demo_clips": 2, "demo_target_images": 8, "size": 64})
    default = tiny_config(tmp_path, data={"demo": True, "demo_clips": 2, "size": 64})
    assert demo_data_dir(config) != demo_data_dir(default)  # never reuses a set of another size
    assert shard_dir(config) != shard_dir(default)  # nor its shards
    _, (target,) = source_and_targets(config)
    splits = json.loads((Path(target.split(":", 1)[1]) / "splits.json").read_text())
    assert {name: len(ids) for name, ids in splits.items()} == {"adapt": 4, "val": 2, "test": 2}
