"""The demo set a config asks for, and the caches of it: every key that shapes the demo data or the shards
(read from the config model) gets its own folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from data_pipeline.shift import DomainShift
from search.shards import NOT_SHAPING_SHARDS, demo_data_dir, demo_keys, shard_dir, source_and_targets
from tests.search.tiny import TINY, tiny_config


def test_demo_target_images_sets_the_target_splits(tmp_path):
    config = tiny_config(tmp_path, data={"demo": True, "demo_clips": 2, "demo_target_images": 8, "size": 64})
    default = tiny_config(tmp_path, data={"demo": True, "demo_clips": 2, "size": 64})
    assert demo_data_dir(config) != demo_data_dir(default)  # never reuses a set of another size
    assert shard_dir(config) != shard_dir(default)  # nor its shards
    _, (target,) = source_and_targets(config)
    splits = json.loads((Path(target.split(":", 1)[1]) / "splits.json").read_text())
    assert {name: len(ids) for name, ids in splits.items()} == {"adapt": 4, "val": 2, "test": 2}


# Another value for each `data` key whose current value the generic rule below cannot change.
ANOTHER = {
    "brightness": "none",
    "image_format": "png",
    "source": "surreal:/elsewhere",
    "demo_clips": 3,
    "demo_target_images": 8,
    "frames_per_clip": 2,
    "frame_step": 2,
    "target_labels": "none",
}


def _another(key: str, value):
    """A valid value of `data.<key>` other than `value`: a new key of a new type fails here, asking for one."""
    if key in ANOTHER:
        return ANOTHER[key]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return round(value + 0.05, 4) if value < 0.5 else round(value - 0.05, 4)
    if isinstance(value, (list, tuple)) and key == "targets":
        return [*value, "lsp:/elsewhere"]
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return [*value[:-1], value[-1] + 1]
    raise AssertionError(f"data.{key}: add another value for it to ANOTHER")


def _data_keys() -> list[str]:
    """Every key of the config's `data` model (the domain shift's factors one by one), read from the model."""
    from search.config import DataConfig

    keys = []
    for field in dataclasses.fields(DataConfig):
        if field.name == "shift":
            keys += [f"shift.{factor.name}" for factor in dataclasses.fields(DomainShift)]
        else:
            keys.append(field.name)
    return keys


def _changed(tmp_path, key: str):
    """(a config, the same config with `data.<key>` changed), demo data unless the key names real inputs."""
    data = {**TINY["data"], "demo": key not in ("source", "targets"), "shards": str(tmp_path / "shards")}
    base = tiny_config(tmp_path, data=data)
    if key.startswith("shift."):
        factor = key.partition(".")[2]
        value = getattr(base.data.shift, factor)
        return base, tiny_config(tmp_path, data={**data, "shift": {factor: 0.5 if value != 0.5 else 0.25}})
    return base, tiny_config(tmp_path, data={**data, key: _another(key, getattr(base.data, key))})


@pytest.mark.parametrize("key", [k for k in _data_keys() if k not in NOT_SHAPING_SHARDS])
def test_every_key_that_shapes_the_data_gets_its_own_cache(tmp_path, key):
    """`--set data.demo_clips=20` once trained on the cached 200-clip shards: each key is in the caches' keys."""
    base, changed = _changed(tmp_path, key)
    assert shard_dir(changed) != shard_dir(base)
    if key.split(".")[0] in demo_keys():
        assert demo_data_dir(changed) != demo_data_dir(base)


@pytest.mark.parametrize("key", [k for k in NOT_SHAPING_SHARDS if k != "shards"])  # shards: the place
def test_keys_that_shape_no_shard_share_the_cache(tmp_path, key):
    data = {**TINY["data"], "shards": str(tmp_path / "shards")}
    base = tiny_config(tmp_path, data=data)
    # Without target labels the search must select by a score that reads none.
    search = {"search": {**TINY["search"], "metric": "dev_risk"}} if key == "target_labels" else {}
    changed = tiny_config(tmp_path, data={**data, key: _another(key, getattr(base.data, key) or 4)}, **search)
    assert shard_dir(changed) == shard_dir(base) and demo_data_dir(changed) == demo_data_dir(base)


def test_the_demo_set_has_the_clips_and_frames_the_config_asks_for(tmp_path):
    config = tiny_config(tmp_path, data={**TINY["data"], "demo_clips": 3, "demo_frames": [2, 3]})
    (source,), _ = source_and_targets(config)
    clips = sorted(Path(source.split(":", 1)[1]).rglob("*_info.mat"))
    assert len(clips) == 3
    again = tiny_config(tmp_path, data={**TINY["data"], "demo_clips": 4, "demo_frames": [2, 3]})
    (other,), _ = source_and_targets(again)
    assert other != source and len(sorted(Path(other.split(":", 1)[1]).rglob("*_info.mat"))) == 4
