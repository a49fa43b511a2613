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
    for key in ("train.lr", "train.adv_weight", "augment.occlusion_prob", "train.lr_decay_rate"):
        assert key in config.search.space
    for key in ("train.lr", "train.adv_weight"):  # log scale; the adversarial weight down to practically off
        assert config.search.space[key].type == "loguniform"
    assert config.search.space["train.adv_weight"].low <= 1e-4
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


DEMO = "data: {demo: true}\n"
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


BAD_VALUES = [
    (DEMO + "storage: {keep_checkpoints: 0}", "storage.keep_checkpoints", "greater than or equal to 1"),
    (DEMO + "scheduler: {reduction_factor: 1}", "scheduler.reduction_factor", "greater than 1"),
    (DEMO + "scheduler: {grace_period: 0}", "scheduler.grace_period", "greater than or equal to 1"),
    (DEMO + "search: {num_samples: -3}", "search.num_samples", "greater than or equal to 1"),
    (DEMO + "failure: {max_failures: -5}", "failure.max_failures", "greater than or equal to 0"),
    (DEMO + "search: {max_concurrent: 0}", "search.max_concurrent", "greater than or equal to 1"),
    (DEMO + "search: {metric: target_val_pdj2}", "search.metric", "not a validation metric"),
    (DEMO + "train: {lr: .inf}", "train.lr", "finite number"),
    (DEMO + "augment: {occlusion_prob: 3}", "augment.occlusion_prob", "less than or equal to 1"),
    (DEMO + "augment: {flip_prob: -1}", "augment.flip_prob", "greater than or equal to 0"),
    (DEMO + "augment: {scale_range: [0, 0]}", "augment.scale_range", "greater than 0"),
    ("data: {demo: true, size: -5}", "data.size", "greater than or equal to 8"),
    ("data: {demo: true, brightness: lab}", "data.brightness", "'lab' is not a brightness step: use one of none"),
    (
        DEMO + "search: {space: {data.brightness: {type: choice, values: [mean, bright]}}}",
        "search.space.data.brightness",
        "'bright' is not a brightness step",
    ),
    ("data: {demo: true, shift: {lighting: 1.5}}", "data.shift.lighting", "less than or equal to 1"),
    ("data: {demo: true, shift: {blur: 1.0}}", "data.shift.blur", "Unexpected keyword argument"),
    (DEMO + "resources: {gpu: .nan}", "resources.gpu", "finite number"),
    (DEMO + "train: {device: cuda}\nresources: {gpu: 0}", "train.device", "resources.gpu is 0"),
    (
        DEMO + "search: {space: {train.epochs: {type: uniform, low: 1, high: 5}}}",
        "search.space.train.epochs",
        "integer: search it with type: int",
    ),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD_VALUES, ids=[key for _, key, _ in BAD_VALUES])
def test_a_bad_value_is_refused_naming_the_file_and_the_key(tmp_path, text, key, problem):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: {key}: ") and problem in str(error.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DEMO + "train:\n  lr: 0.1\n  lr: 0.2\n", "duplicate key 'lr'"),
        (DEMO + "train: {lr: 0.1}\ntrain: {epochs: 3}\n", "duplicate key 'train'"),
        (DEMO + ALIAS_BOMB, "aliases (*name) are not allowed"),
    ],
    ids=["duplicate-key", "duplicate-section", "alias-bomb"],
)
def test_yaml_that_would_be_silently_wrong_or_explode_is_a_short_error(tmp_path, text, problem):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: not valid YAML: ") and problem in str(error.value)
    assert len(str(error.value)) < 300


def test_setting_a_whole_section_to_nothing_is_refused_and_a_mapping_merges(tmp_path):
    path = _write(tmp_path, {**BASE, "train": {"epochs": 3, "lr": 0.01}})
    with pytest.raises(ConfigError, match=r"--set train: is a section"):
        load_config(path, ["train="])
    merged = load_config(path, ["train={epochs: 5}"])
    assert merged.train.epochs == 5 and merged.train.lr == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["x/demo", "./demo"])
def test_a_missing_config_path_is_an_error_not_the_shipped_demo(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(name)


def test_shipped_configs_by_name():
    assert load_config("demo") == load_config("demo.yaml") == load_config(CONFIG_DIR / "demo.yaml")


@pytest.mark.parametrize(
    ("argv", "where", "problem"),
    [
        (["--set", "train.lr=[1,"], "--set train.lr", "not valid YAML"),
        (["--set", "model=5"], "--set model", "is a section"),
    ],
)
def test_bad_overrides_are_one_line_and_exit_2_before_ray_starts(tmp_path, capsys, argv, where, problem):
    import ray

    from search.cli import main

    path = _write(tmp_path, BASE)
    assert main(["search", "launch", "--config", str(path), "--name", "x", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"posetune: error: {path}: {where}") and problem in err and err.count("\n") == 1
    assert not ray.is_initialized()


def test_a_config_that_is_not_utf8_is_one_line_and_exit_2(tmp_path, capsys):
    from search.cli import main

    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\ndata: {demo: true}\n".encode("latin-1"))
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"posetune: error: {path}: not UTF-8") and err.count("\n") == 1


def test_launch_takes_the_config_as_an_option_and_says_so_for_the_old_spelling(capsys):
    import ray

    from search.cli import main

    assert main(["search", "launch", "demo", "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "the config is an option now: posetune search launch --config demo" in err and err.count("\n") == 1
    assert not ray.is_initialized()


def test_a_key_fixed_with_set_leaves_the_shipped_space():
    """demo searches train.lr; `--set train.lr=...` means every trial trains at that lr."""
    assert "train.lr" in load_config("demo").search.space
    config = load_config("demo", ["train.lr=0.002", "augment={occlusion_prob: 0.1}"])
    assert config.train.lr == 0.002 and config.augment.occlusion_prob == 0.1
    assert "train.lr" not in config.search.space and "augment.occlusion_prob" not in config.search.space
    assert "train.adv_weight" in config.search.space  # the rest is still searched
    assert "train.lr" not in default_point(config)
