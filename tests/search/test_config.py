"""Configs validate on load, and every error names the file and the key at fault."""

import pytest
import yaml

from search.config import CONFIG_DIR, ExperimentConfig, load_config
from search.errors import ConfigError
from search.space import default_point, make_sampler, optuna_space


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
def test_shipped_configs_load_and_search_the_study_levers(name):
    config = load_config(name)
    assert isinstance(config, ExperimentConfig)
    if name.startswith("study"):  # a study config trains fixed arms: it searches nothing
        assert not config.search.space and config.scheduler.type == "none"
        return
    for key in ("train.adv_weight", "augment.occlusion_prob", "train.lr_decay_rate"):
        assert key in config.search.space
    assert config.search.metric == "target_val_pdj20" and config.model.num_joints == 14
    point = default_point(config)
    space = optuna_space(config)
    assert set(point) == set(space)
    for key, value in point.items():
        assert space[key]._contains(space[key].to_internal_repr(value))


def _write(tmp_path, raw):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


BASE = {"data": {"demo": True}}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({**BASE, "trian": {}}, "trian"),
        ({**BASE, "train": {"lrr": 0.1}}, "train.lrr"),
        ({**BASE, "train": {"epochs": "ten"}}, "train.epochs"),
        ({**BASE, "train": {"channels_last": "yes"}}, "train.channels_last"),
        ({**BASE, "search": {"mode": "maximise"}}, "search.mode"),
        ({**BASE, "model": {"num_joints": 16}}, "model.num_joints"),
        (
            {**BASE, "search": {"space": {"train.nope": {"type": "uniform", "low": 0, "high": 1}}}},
            "train.nope",
        ),
        (
            {**BASE, "search": {"space": {"train.lr": {"type": "loguniform", "low": 0, "high": 1}}}},
            "train.lr",
        ),
        (
            {**BASE, "search": {"space": {"train.loss": {"type": "choice", "values": ["mse", "l1"]}}}},
            "train.loss",
        ),
        ({"data": {}}, "data"),
    ],
)
def test_bad_configs_name_the_file_and_key(tmp_path, raw, key):
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert key in str(error.value)


def test_overrides_are_parsed_as_yaml_and_validated(tmp_path):
    path = _write(tmp_path, BASE)
    config = load_config(path, ["train.lr=1e-3", "search.num_samples=3", "data.targets=[lsp:/x]"])
    assert config.train.lr == pytest.approx(1e-3) and config.search.num_samples == 3
    assert config.data.targets == ["lsp:/x"]
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(path, ["train.epochs=1.5"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(path, ["train.lr"])


def test_with_params_sets_dotted_keys_and_checks_types():
    config = load_config("demo")
    trial = config.with_params({"train.adv_weight": 0.5, "augment.occlusion_prob": 0.2})
    assert trial.train.adv_weight == 0.5 and trial.augment.occlusion_prob == 0.2
    assert config.train.adv_weight != 0.5 or config.augment.occlusion_prob != 0.2  # the original is untouched
    assert trial.train_config().model == trial.model
    with pytest.raises(ConfigError):
        config.with_params({"train.epochs": "many"})


def test_config_round_trips_through_its_dict():
    config = load_config("surreal_lsp")
    from search.config import config_from_dict

    assert config_from_dict(config.to_dict()) == config


def test_samplers_are_seeded():
    config = load_config("demo")
    draws = []
    for _ in range(2):
        import optuna

        study = optuna.create_study(sampler=make_sampler(config), direction="maximize")
        draws.append([study.ask(optuna_space(config)).params for _ in range(3)])
    assert draws[0] == draws[1]
