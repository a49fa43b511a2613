"""Relative paths work from any working directory: the search and the study resolve them on the driver,
so trials (which Tune runs in their own folders) and the Ray Data job read and write the same places."""

from __future__ import annotations

import pytest
import yaml

from data_pipeline.manifest import SHARDS_MANIFEST
from search.cli import main
from search.experiment import EXPERIMENT_MANIFEST
from tests.search.tiny import TINY

pytestmark = pytest.mark.slow


def test_search_launch_and_study_with_relative_storage(tmp_path, monkeypatch, ray_session, capsys):
    monkeypatch.chdir(tmp_path)
    raw = {
        **TINY,
        "train": {**TINY["train"], "epochs": 1, "steps_per_epoch": 1},
        "search": {**TINY["search"], "num_samples": 1, "max_concurrent": 1},
        "tracking": {"wandb": "none"},
        "storage": {"path": "./posetune-runs"},  # as the shipped demo.yaml; no data.shards: under it
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(raw))

    assert main(["search", "launch", "--config", "tiny.yaml", "--name", "rel"]) == 0
    runs = tmp_path / "posetune-runs"
    assert [p.parent.name.split("-")[0] for p in (runs / "shards").glob(f"*/{SHARDS_MANIFEST}")] == ["centred"]
    assert (runs / "rel" / EXPERIMENT_MANIFEST).is_file()
    assert "1 finished, 0 errored" in capsys.readouterr().out

    # The same shards serve the study's `enhanced` arm (brightness centring on).
    assert main(["study", "--config", "tiny.yaml", "--arms", "enhanced", "--seeds", "1", "--name", "st"]) == 0
    assert (runs / "st" / "table.md").is_file()
