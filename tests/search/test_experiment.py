"""The `Experiment` handle: a name that exists is never launched into, a missing experiment is never resumed,
each refused with the one line users see (naming the folder), before Ray starts; the manifest it writes is
the one it reads back, redacted."""

import json

import pytest

from search.errors import ConfigError
from search.experiment import EXPERIMENT_MANIFEST, Experiment, experiment_uri
from search.study.run import run_study
from search.tuner import check_launch, resume
from tests.search.tiny import tiny_config


def plant_tune_state(folder):
    """What `Tuner.can_restore` looks for: Tune's pickled Tuner (never opened by a refusal)."""
    folder.mkdir(parents=True)
    (folder / "tuner.pkl").write_bytes(b"not a pickle")


def test_a_launch_into_an_existing_experiment_is_refused_naming_it(tmp_path):
    config = tiny_config(tmp_path)
    uri = experiment_uri(config.storage.path, "taken")
    plant_tune_state(tmp_path / "runs" / "taken")
    with pytest.raises(ConfigError) as refused:
        check_launch(config, "taken")
    assert str(refused.value) == (
        f"{uri}: an experiment of this name already exists; continue it with `posetune search resume {uri}` "
        "or pass --resume-if-exists, or choose another --name"
    )
    with pytest.raises(ConfigError, match="a study of this name exists; continue it with --resume"):
        run_study(config, name="taken")


def test_resuming_a_missing_experiment_is_refused_naming_it(tmp_path):
    config = tiny_config(tmp_path)
    uri = experiment_uri(config.storage.path, "never-launched")
    with pytest.raises(ConfigError) as refused:
        run_study(config, name="never-launched", resume=True)
    assert str(refused.value) == f"{uri}: no study to resume here"
    with pytest.raises(ConfigError) as refused:
        Experiment.open(uri, missing="nothing here")
    assert str(refused.value) == f"{uri}: nothing here"
    Experiment(uri).write_manifest("never-launched", config)  # a manifest, but no Tune state
    with pytest.raises(ConfigError) as refused:
        resume(uri)
    assert str(refused.value) == f"{uri}: no Tune experiment state to resume here (was it launched?)"


def test_the_handle_reads_back_the_manifest_it_wrote_redacted(tmp_path, monkeypatch):
    config = tiny_config(tmp_path, storage={"path": str(tmp_path / "runs")})
    experiment = Experiment(experiment_uri(config.storage.path, "exp"))
    assert (experiment.name, experiment.path) == ("exp", str(tmp_path / "runs" / "exp"))
    monkeypatch.setattr("sys.argv", ["posetune", "search", "launch", "--set", "password=hunter2"])
    experiment.write_manifest("exp", config)
    assert experiment.config() == config
    stored = json.loads((tmp_path / "runs" / "exp" / EXPERIMENT_MANIFEST).read_text())
    assert stored["experiment_uri"] == experiment.uri and "hunter2" not in json.dumps(stored)
    assert not experiment.exists()
