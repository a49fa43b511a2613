"""`data.brightness` names a step (none | mean | reinhard); each step gets its own shards, which record it."""

import json

import numpy as np
import pyarrow.dataset as pads
import pytest
import ray

from data_pipeline.manifest import SHARDS_MANIFEST, read_shards_manifest
from data_pipeline.schema import decode_image
from search.cluster import init_ray
from search.errors import ConfigError
from search.shards import brightness_variants, prepare_shards, shard_dir
from tests.search.tiny import TINY, tiny_config

CHOICE = {"data.brightness": {"type": "choice", "values": ["none", "mean", "reinhard"]}}


def _images(root, domain):
    table = pads.dataset(f"{root}/{domain}", format="parquet").to_table(columns=["sample_id", "image"])
    order = np.argsort(table.column("sample_id").to_pylist())
    return [decode_image(table.column("image")[int(i)].as_py()) for i in order]


def test_a_searched_choice_of_steps_gets_one_shard_set_per_step(shard_root, tmp_path):
    config = tiny_config(
        tmp_path, data={**TINY["data"], "shards": shard_root}, search={**TINY["search"], "space": CHOICE}
    )
    assert brightness_variants(config) == ["mean", "none", "reinhard"]
    dirs = {step: shard_dir(config, step) for step in ("none", "mean", "reinhard")}
    assert len(set(dirs.values())) == 3
    assert (
        shard_dir(config, True) == dirs["mean"] and shard_dir(config, False) == dirs["none"]
    )  # older configs
    init_ray(None, {})
    try:
        made = prepare_shards(config)  # the session's shards hold none and mean already
    finally:
        ray.shutdown()
    assert made == [dirs["reinhard"]]
    for step, root in dirs.items():
        assert read_shards_manifest(root)["settings"]["brightness"] == step
    source = {step: _images(root, "source") for step, root in dirs.items()}
    for a, b in (("none", "mean"), ("mean", "reinhard"), ("none", "reinhard")):
        assert any(not np.array_equal(x, y) for x, y in zip(source[a], source[b], strict=True)), (a, b)
    target = {step: _images(root, "target") for step, root in dirs.items()}
    for x, y in zip(target["none"], target["reinhard"], strict=True):
        np.testing.assert_array_equal(x, y)  # the brightness step is for synthetic images only


def test_one_enhance_output_serves_only_the_step_it_was_made_with(tmp_path):
    out = tmp_path / "shards"
    out.mkdir()
    manifest = {
        "schema_version": 2,
        "counts": {},
        "settings": {"brightness": True},
    }  # written before variants
    (out / SHARDS_MANIFEST).write_text(json.dumps(manifest))
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": str(out)})
    assert shard_dir(config, "mean") == str(out)
    with pytest.raises(ConfigError, match="made with brightness step 'mean', the config asks for 'reinhard'"):
        shard_dir(config, "reinhard")


def test_a_non_default_demo_shift_gets_its_own_data_and_shards(tmp_path):
    from search.shards import demo_data_dir

    default = tiny_config(tmp_path)
    shifted = tiny_config(tmp_path, data={**TINY["data"], "shift": {"lighting": 0.0}})
    assert shifted.data.shift.lighting == 0.0 and shifted.data.shift.framing == 1.0
    assert demo_data_dir(default) != demo_data_dir(shifted)
    assert shard_dir(default) != shard_dir(shifted)
    assert shard_dir(default).rpartition("/")[2].startswith("centred-")


def test_data_enhance_makes_by_default_the_shards_the_demo_config_reads(tmp_path):
    """`data enhance ... --out shards` then `train --config demo --data shards` was refused: enhance's
    brightness step defaulted to mean, the demo config's is none."""
    import dataclasses

    from search.cli import build_parser
    from search.config import load_config
    from search.jobs.enhance import enhance_settings

    defaults = enhance_settings(build_parser().parse_args(["data", "enhance", "--out", str(tmp_path / "s")]))
    demo = load_config("demo", [f"data.shards={tmp_path / 's'}"])
    assert defaults == demo.data.enhance_settings()
    (tmp_path / "s").mkdir()
    manifest = {"schema_version": 2, "counts": {}, "settings": dataclasses.asdict(defaults)}
    (tmp_path / "s" / SHARDS_MANIFEST).write_text(json.dumps(manifest))
    assert shard_dir(demo) == str(tmp_path / "s")


def test_shards_made_with_other_settings_are_refused_naming_both_fixes(tmp_path):
    import dataclasses

    from search.config import load_config

    demo = load_config("demo", [f"data.shards={tmp_path}"])
    for key, made in (("brightness", "mean"), ("size", 256)):
        settings = {**dataclasses.asdict(demo.data.enhance_settings()), key: made}
        (tmp_path / SHARDS_MANIFEST).write_text(json.dumps({"schema_version": 2, "counts": {}, "settings": settings}))
        with pytest.raises(ConfigError) as error:
            shard_dir(demo)
        want = getattr(demo.data, key)
        flag = "--" + key
        assert f"data.{key}" in str(error.value) and f"{flag} {want}" in str(error.value), error.value
        assert f"--set data.{key}={made}" in str(error.value), error.value
