"""The experiment config: one YAML file, validated on load, with CLI overrides and search-space keys.

`model`, `train` and `augment` are the dataclasses of the packages that use them (HourglassConfig,
TrainConfig, AugmentConfig), so a key means the same thing in a config, in a trial and in a checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from data_pipeline import storage
from data_pipeline.joints import LSP14
from data_pipeline.loader import AugmentConfig
from models.hourglass import HourglassConfig
from models.metric_names import SELECTION
from models.train import TrainConfig
from search.errors import ConfigError
from search.typed import coerce, from_dict, to_dict

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-3` (no dot) as a string; this safe loader reads it as the float everyone means."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str):
    """Parse YAML text safely (no arbitrary objects), with `1e-3` as a float."""
    return yaml.load(text, Loader=_YamlLoader)


SEARCHABLE_SECTIONS = ("model", "train", "augment", "data")


@dataclass
class DataConfig:
    """Where images come from and where their enhanced Parquet shards live."""

    source: str = ""  # "surreal:DIR" (DIR holds cmu/)
    targets: list[str] = field(default_factory=list)  # "lsp:DIR", "lsp-extended:DIR", "coco:ANN.json:IMGDIR"
    demo: bool = False  # generate the procedural demo set next to the shards and use it
    demo_clips: int | None = None  # None: the generator's default size
    demo_seed: int = 0
    shards: str = ""  # Parquet root (local path, s3://, gs://); "" = <storage.path>/shards
    size: int = 256  # side of the stored crops
    frames_per_clip: int | None = None
    brightness: bool = True  # brightness centring (study eq. 1-2) on source images
    max_source_train: int | None = None  # subsample for quick runs (validation caps: train.max_eval_samples)


@dataclass
class ParamSpec:
    """One searched key: uniform/loguniform floats, int ranges, or a choice of values."""

    type: Literal["uniform", "loguniform", "int", "choice"]
    low: float | None = None
    high: float | None = None
    values: list[Any] | None = None

    def __post_init__(self):
        if self.type == "choice":
            if not self.values:
                raise ValueError("a choice needs a non-empty 'values' list")
        else:
            if self.low is None or self.high is None:
                raise ValueError(f"a {self.type} range needs 'low' and 'high'")
            if not self.low < self.high:
                raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
            if self.type == "loguniform" and self.low <= 0:
                raise ValueError("a loguniform range needs low > 0")


@dataclass
class SearchConfig:
    metric: str = SELECTION
    mode: Literal["max", "min"] = "max"
    algorithm: Literal["tpe", "random"] = "tpe"
    num_samples: int = 8
    max_concurrent: int = 2
    seed: int = 0
    evaluate_defaults_first: bool = True  # the config's own values are the first trial
    space: dict[str, ParamSpec] = field(default_factory=dict)
    time_budget_s: float | None = None


@dataclass
class SchedulerConfig:
    type: Literal["asha", "none"] = "asha"
    grace_period: int = 1
    reduction_factor: float = 2.0
    max_t: int | None = None  # None: train.epochs


@dataclass
class ResourcesConfig:
    cpu: float = 1.0
    gpu: float = 0.0  # fractions share a card by scheduling only


@dataclass
class FailureConfig:
    max_failures: int = 2  # retries of a crashed trial, from its last checkpoint


@dataclass
class StorageConfig:
    path: str = "~/posetune-runs"  # local dir, NFS, s3://bucket/prefix, gs://bucket/prefix
    keep_checkpoints: int = 3  # per trial, best by the search metric (>= 3 survives kill-restore races)


@dataclass
class TrackingConfig:
    wandb: Literal["auto", "online", "offline", "none"] = "auto"  # auto: online with an API key, else offline
    project: str = "posetune"
    entity: str | None = None
    log_images: bool = True  # prediction overlays on target-val images
    images_every: int = 1  # epochs between overlays


@dataclass
class ExperimentConfig:
    name: str = "posetune"
    data: DataConfig = field(default_factory=DataConfig)
    model: HourglassConfig = field(default_factory=lambda: HourglassConfig(num_joints=len(LSP14)))
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    failure: FailureConfig = field(default_factory=FailureConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    # -- derived values -------------------------------------------------------------------------
    def train_config(self) -> TrainConfig:
        """The TrainConfig `fit` receives: the train section with this config's model inside."""
        return dataclasses.replace(self.train, model=self.model)

    @property
    def shards_root(self) -> str:
        return self.data.shards or storage.join(self.storage.path, "shards")

    @property
    def max_t(self) -> int:
        return self.scheduler.max_t or self.train.epochs

    def to_dict(self) -> dict:
        out = to_dict(self)
        out["train"].pop("model", None)  # the model section is the one source of truth
        return out

    def with_params(self, params: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted keys (`train.adv_weight`) set, each value checked against its field."""
        raw = self.to_dict()
        for dotted, value in params.items():
            _set_dotted(raw, dotted, value, path=None)
        return config_from_dict(raw)


def config_from_dict(raw: dict, *, path: str | None = None) -> ExperimentConfig:
    """Validate a plain dict (from YAML) into an ExperimentConfig; errors name the key and file."""
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections", path=path)
    train = raw.get("train") or {}
    if "model" in train:
        raise ConfigError("set the network in the top-level 'model' section", path=path, key="train.model")
    model = raw.get("model") or {}
    model.setdefault("num_joints", len(LSP14))
    raw["model"] = model
    config = from_dict(ExperimentConfig, raw, path=path)
    _check(config, path)
    # Local paths absolute here, on the driver: trials run in another working directory.
    config.storage.path = storage.absolute(config.storage.path)
    config.data.shards = storage.absolute(config.data.shards)
    return config


def _check(config: ExperimentConfig, path: str | None) -> None:
    if config.model.num_joints != len(LSP14):
        raise ConfigError(f"must be {len(LSP14)} (the LSP-14 joint set)", path=path, key="model.num_joints")
    if not config.data.demo and not config.data.source and not config.data.shards:
        raise ConfigError(
            "name a data source: demo: true, source: surreal:DIR (+ targets), or existing shards",
            path=path,
            key="data",
        )
    for dotted, spec in config.search.space.items():
        section, _, name = dotted.partition(".")
        if section not in SEARCHABLE_SECTIONS or not name:
            raise ConfigError(
                f"searched keys look like <section>.<key> with section in {SEARCHABLE_SECTIONS}",
                path=path,
                key=f"search.space.{dotted}",
            )
        target = getattr(config, section)
        hints = {f.name: f for f in dataclasses.fields(target)}
        if name not in hints:
            raise ConfigError(f"{section} has no key {name!r}", path=path, key=f"search.space.{dotted}")
        if section == "data" and name != "brightness":
            raise ConfigError("of the data section only 'brightness' can be searched", path=path, key=dotted)
        samples = spec.values if spec.type == "choice" else [spec.low, spec.high]
        annotation = _field_type(type(target), name)
        for value in samples:
            if spec.type == "int" or (annotation is int and spec.type != "choice"):
                value = int(value)
            value = coerce(annotation, value, key=f"search.space.{dotted}", path=path)
            try:  # the section's own checks (ranges, allowed names) on every value the search can draw
                dataclasses.replace(target, **{name: value})
            except (TypeError, ValueError) as error:
                raise ConfigError(str(error), path=path, key=f"search.space.{dotted}") from error
    if config.search.metric and config.search.mode not in ("max", "min"):
        raise ConfigError("must be max or min", path=path, key="search.mode")
    if config.resources.gpu < 0 or config.resources.cpu <= 0:
        raise ConfigError("cpu must be > 0 and gpu >= 0", path=path, key="resources")


def _field_type(cls: type, name: str) -> Any:
    import typing

    return typing.get_type_hints(cls)[name]


def _set_dotted(raw: dict, dotted: str, value: Any, *, path: str | None) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{part!r} is not a section", path=path, key=dotted)
        node = child
    node[parts[-1]] = value


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML config (a path, or the name of a shipped config such as `demo`) and apply
    `key=value` overrides (values parsed as YAML: `train.lr=1e-3`, `data.targets=[lsp:/data/lsp]`)."""
    path = resolve_config_path(path)
    try:
        raw = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}", path=str(path)) from error
    for override in overrides or []:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"an override looks like key=value, got {override!r}", path=str(path))
        _set_dotted(raw, key.strip(), load_yaml(text), path=str(path))
    return config_from_dict(raw, path=str(path))


def resolve_config_path(path: str | os.PathLike) -> Path:
    """A config file path, or the name of one shipped in search/configs (`demo`, `surreal_lsp`)."""
    candidate = Path(path).expanduser()
    if candidate.is_file():
        return candidate
    shipped = CONFIG_DIR / f"{Path(path).stem}.yaml"
    if shipped.is_file() and not candidate.suffix or (shipped.is_file() and str(path) == shipped.name):
        return shipped
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"no such config file (shipped configs: {known})", path=str(path))


def dump_config(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
