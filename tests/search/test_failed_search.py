"""A search in which every trial fails exits 1 with each trial's error, and keeps the experiment folder."""

from __future__ import annotations

import json
import shutil

import pyarrow.fs
import pytest
import yaml

from data_pipeline.manifest import SHARDS_MANIFEST
from search.cli import main
from search.shards import shard_dir
from tests.search.tiny import TINY, tiny_config, trial_states

pytestmark = pytest.mark.slow


def test_every_trial_failing_exits_1_naming_the_cause(tmp_path, shard_root, ray_session, capsys):
    shards = tmp_path / "shards"
    shutil.copytree(shard_dir(tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root})), shards)
    broken = sorted((shards / "source").glob("*.parquet"))
    for part in broken:  # the manifest still vouches for them: only reading them shows the damage
        part.write_bytes(part.read_bytes()[:100])
    config = tiny_config(
        tmp_path,
        data={**TINY["data"], "shards": str(shards)},
        search={**TINY["search"], "num_samples": 2},
        failure={"max_failures": 0},
        tracking={"wandb": "none"},
    )
    config_file = tmp_path / "c.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))

    assert main(["search", "launch", "--config", str(config_file), "--name", "broken"]) == 1

    err = capsys.readouterr().err
    assert "no trial finished (2 errored)" in err and broken[0].name in err, err
    states = trial_states(pyarrow.fs.LocalFileSystem(), str(tmp_path / "runs" / "broken"))
    assert sorted(status for status, _ in states.values()) == ["ERROR", "ERROR"]


def test_shards_missing_a_split_the_trials_read_are_refused_before_any_trial(tmp_path, shard_root, capsys):
    """Every target image skipped leaves no target val split: one line and exit 2, no trial started."""
    shards = tmp_path / "shards"
    shutil.copytree(shard_dir(tiny_config(tmp_path, data={**TINY["data"], "shards": shard_root})), shards)
    manifest = json.loads((shards / SHARDS_MANIFEST).read_text())
    manifest["counts"]["target"].pop("val")
    (shards / SHARDS_MANIFEST).write_text(json.dumps(manifest))
    config = tiny_config(tmp_path, data={**TINY["data"], "shards": str(shards)}, tracking={"wandb": "none"})
    config_file = tmp_path / "c.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))

    assert main(["search", "launch", "--config", str(config_file), "--name", "nosplit"]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no samples in the target val split" in err[0] and str(shards) in err[0], err
    assert not (tmp_path / "runs" / "nosplit").exists()
