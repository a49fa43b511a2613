"""The experiment config: one YAML file, validated whole before anything starts (before Ray).

Every section is a `settings_dataclass` (data_pipeline.settings): typed fields with bounds, defaults and
a one-line description beside each, checked by pydantic. `model`, `train` and `augment` are the classes of
the packages that use them (HourglassConfig, TrainConfig, AugmentConfig) and `data` extends the
enhancement job's EnhanceSettings, so a key means the same thing in a config, a trial, a checkpoint and
a shards manifest. Rules that span sections (`_check_across_sections`) run right after. Errors name the
file and the dotted key.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from data_pipeline import storage
from data_pipeline.enhance_settings import EnhanceSettings
from data_pipeline.joints import LSP14
from data_pipeline.loader import AugmentConfig
from data_pipeline.settings import settings_dataclass
from data_pipeline.shift import DomainShift
from models.config import HourglassConfig, TrainConfig
from models.metric_names import (
    LABEL_FREE_METRICS,
    SELECTION,
    SOURCE_VAL,
    VALIDATION_METRICS,
    needs_target_labels,
)
from models.metric_names import mode as metric_mode
from search.errors import ConfigError, from_validation

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SEARCHABLE_SECTIONS = ("model", "train", "augment", "data")


# --------------------------------------------------------------------------------------------- sections


@settings_dataclass(frozen=True)
class DataConfig(EnhanceSettings):
    """Where images come from and where their Parquet shards live, plus the enhancement settings
    (size, margin, brightness, image_format, jpeg_quality, frames_per_clip, frame_step, seed)."""

    source: StrictStr = Field("", description='"surreal:DIR" (DIR holds cmu/)')
    targets: list[StrictStr] = Field(
        default_factory=list,
        description='"lsp:DIR", "lsp-extended:DIR", "coco:ANN.json:IMGDIR", "folder:IMGDIR" (unlabelled photos)',
    )
    target_labels: Literal["labelled", "none"] = Field(
        "labelled",
        description="none: no target keypoint labels (read or not): select by a label-free metric, report none",
    )
    demo: StrictBool = Field(
        False, description="generate the procedural demo set next to the shards and use it"
    )
    demo_clips: StrictInt | None = Field(
        None, ge=1, description="demo source clips (null: the generator's default)"
    )
    demo_frames: tuple[StrictInt, StrictInt] = Field(
        (10, 30), description="frames per demo source clip, drawn in [low, high] (more clips, fewer frames: more variety)"
    )
    demo_seed: StrictInt = Field(0, ge=0, description="seed of the demo set")
    shift: DomainShift = Field(
        default_factory=DomainShift,
        description="demo target's domain-shift factors, 0 = as the source, 1 = default",
    )
    demo_target_images: StrictInt | None = Field(
        None, ge=4, description="demo target images, split 50/25/25 adapt/val/test (null: 10 per source clip)"
    )
    shards: StrictStr = Field(
        "", description='Parquet root (local path, s3://, gs://); "" = <storage.path>/shards'
    )
    max_source_train: StrictInt | None = Field(
        None, ge=1, description="subsample source train for quick runs (validation: train.max_eval_samples)"
    )

    @field_validator("demo_frames")
    @classmethod
    def _frame_range(cls, frames: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= frames[0] <= frames[1]:
            raise ValueError(f"[low, high] with 1 <= low <= high, got {list(frames)}")
        return frames

    def enhance_settings(self, brightness: bool | str | None = None) -> EnhanceSettings:
        """The enhancement settings this section holds, with the brightness step `brightness` if given."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(EnhanceSettings)}
        return EnhanceSettings(**{**values, **({} if brightness is None else {"brightness": brightness})})


@settings_dataclass
class ParamSpec:
    """One searched key: uniform/loguniform floats, int ranges, or a choice of values."""

    type: Literal["uniform", "loguniform", "int", "choice"] = Field(description="how values are drawn")
    low: StrictFloat | None = Field(None, description="lowest value of a range")
    high: StrictFloat | None = Field(None, description="highest value of a range")
    values: list[Any] | None = Field(None, description="the values of a choice")

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.type == "choice":
            if not self.values:
                raise ValueError("a choice needs a non-empty 'values' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} range needs 'low' and 'high'")
        if not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.type == "loguniform" and self.low <= 0:
            raise ValueError("a loguniform range needs low > 0")
        if self.type == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError("an int range needs whole 'low' and 'high'")
        return self


@settings_dataclass
class SearchConfig:
    """What the search optimises and how many trials it runs."""

    metric: StrictStr = Field(
        SELECTION, description="a validation metric the trials report (models.metric_names)"
    )
    mode: Literal["max", "min"] | None = Field(
        None, description="whether the metric is better high or low (null: the metric's own, metric_names.MODES)"
    )
    algorithm: Literal["tpe", "random"] = Field("tpe", description="Optuna's TPE or random sampling")
    num_samples: StrictInt = Field(8, ge=1, description="trials in all")
    max_concurrent: StrictInt = Field(2, ge=1, description="trials running at once")
    reuse_actors: StrictBool = Field(
        True, description="a finished trial's process runs the next trial of equal resources (no new torch/CUDA start)"
    )
    seed: StrictInt = Field(0, ge=0, description="sampler seed")
    evaluate_defaults_first: StrictBool = Field(
        True, description="the config's own values are the first trial"
    )
    space: dict[StrictStr, ParamSpec] = Field(default_factory=dict, description="searched dotted keys")
    time_budget_s: StrictFloat | None = Field(None, gt=0, description="stop launching trials after this long")

    @field_validator("metric")
    @classmethod
    def _reported_metric(cls, metric: str) -> str:
        if metric not in VALIDATION_METRICS:
            close = [m for m in VALIDATION_METRICS if m.endswith(metric.rsplit("_", 1)[-1])]
            hint = f"; did you mean {close[0]}?" if close else f" (e.g. {SELECTION})"
            raise ValueError(f"{metric!r} is not a validation metric the trials report{hint}")
        return metric

    @model_validator(mode="after")
    def _metric_mode(self) -> SearchConfig:
        """The mode is the metric's own (written once, in metric_names): filled in, or checked."""
        own = metric_mode(self.metric)
        if self.mode is None:
            self.mode = own
        elif self.mode != own:
            raise ValueError(
                f"mode {self.mode!r} contradicts {self.metric}, which is better "
                f"{'high' if own == 'max' else 'low'}: drop search.mode or set it to {own!r}"
            )
        return self


@settings_dataclass
class SchedulerConfig:
    """ASHA's early stopping (or none)."""

    type: Literal["asha", "none"] = Field("asha", description="asha: stop trials behind their rung")
    grace_period: StrictInt = Field(1, ge=1, description="epochs every trial trains before it can be stopped")
    reduction_factor: StrictFloat = Field(
        2.0, gt=1, description="1 / the fraction of trials promoted per rung"
    )
    max_t: StrictInt | None = Field(None, ge=1, description="epochs of the last rung (null: train.epochs)")


@settings_dataclass
class ResourcesConfig:
    """What one trial holds."""

    cpu: StrictFloat = Field(1.0, gt=0, description="CPUs per trial")
    gpu: StrictFloat = Field(
        0.0, ge=0, description="GPUs per trial; fractions share a card by scheduling only"
    )


@settings_dataclass
class FailureConfig:
    """What happens when a trial crashes."""

    max_failures: StrictInt = Field(
        2, ge=0, description="retries of a crashed trial, from its last checkpoint"
    )


@settings_dataclass
class StorageConfig:
    """Where experiments live."""

    path: StrictStr = Field(
        "~/posetune-runs", min_length=1, description="local dir, NFS, s3://bucket/prefix, gs://bucket/prefix"
    )
    keep_checkpoints: StrictInt = Field(
        3, ge=1, description="per trial, best by the search metric (>= 3 survives kill-restore races)"
    )


@settings_dataclass
class TrackingConfig:
    """Weights & Biases."""

    wandb: Literal["auto", "online", "offline", "none"] = Field(
        "auto", description="auto: online with an API key, else offline"
    )
    project: StrictStr = Field("posetune", min_length=1, description="W&B project")
    entity: StrictStr | None = Field(None, description="W&B entity (null: the key's default)")
    log_images: StrictBool = Field(True, description="prediction overlays on target-val images")
    images_every: StrictInt = Field(1, ge=1, description="epochs between overlays")
    console: Literal["epochs", "ray"] = Field(
        "epochs",
        description="epochs: a line per trial-epoch (Ray's own output kept in its log files); ray: Tune's tables",
    )


@settings_dataclass
class WarmStartConfig:
    """One network every trial starts from, as domain adaptation does (pretrain on the source, then adapt):
    an existing checkpoint, or a source-only model the search trains once, before its trials, into the
    experiment's storage and records in its manifest (`search.warm_start`)."""

    checkpoint: StrictStr | None = Field(
        None, description="an existing checkpoint (state.pt or its folder; path or URI) every trial starts from"
    )
    pretrain_epochs: StrictInt = Field(
        0, ge=0, description="> 0: first train a source-only model this many epochs (adv. weight 0), once"
    )
    pretrain_set: dict[StrictStr, Any] = Field(
        default_factory=dict, description="dotted keys set for the pretraining run only, e.g. train.lr: 0.002"
    )
    cpu: StrictFloat | None = Field(
        None, gt=0, description="CPUs the pretraining run holds; torch uses as many threads (null: resources.cpu)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> WarmStartConfig:
        if self.checkpoint is not None and self.pretrain_epochs > 0:
            raise ValueError("give a checkpoint or pretrain_epochs, not both")
        return self

    @property
    def enabled(self) -> bool:
        return self.checkpoint is not None or self.pretrain_epochs > 0


@settings_dataclass
class ExperimentConfig:
    """A whole experiment: the data, the network and its training, the search and where it all runs."""

    name: StrictStr = Field("posetune", min_length=1, description="prefix of experiment names")
    data: DataConfig = Field(default_factory=DataConfig, description="inputs, shards, enhancement")
    model: HourglassConfig = Field(
        default_factory=lambda: HourglassConfig(num_joints=len(LSP14)), description="the network"
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="training (its model is `model`)")
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="per-trial augmentation")
    search: SearchConfig = Field(default_factory=SearchConfig, description="the search")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="early stopping")
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig, description="per trial")
    failure: FailureConfig = Field(default_factory=FailureConfig, description="retries")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="experiment storage")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="W&B")
    warm_start: WarmStartConfig = Field(
        default_factory=WarmStartConfig, description="a shared checkpoint every trial starts from"
    )

    @model_validator(mode="after")
    def _one_network(self) -> ExperimentConfig:
        """The `model` section is the network: `train` carries that very object (what `fit` receives)."""
        if self.train.model is not self.model:
            self.train = dataclasses.replace(self.train, model=self.model)
        return self

    # -- derived values -------------------------------------------------------------------------
    def train_config(self) -> TrainConfig:
        """The TrainConfig `fit` receives (its model is this config's `model`)."""
        return self.train

    @property
    def shards_root(self) -> str:
        return self.data.shards or storage.join(self.storage.path, "shards")

    @property
    def max_t(self) -> int:
        return self.scheduler.max_t or self.train.epochs

    def to_dict(self) -> dict:
        """Plain YAML/JSON types, in the file's layout (the network under `model` only)."""
        out = _ADAPTER.dump_python(self, mode="json")
        out["train"].pop("model")
        return out

    def pretrain_config(self) -> ExperimentConfig:
        """The source-only run a warm start trains once: this config with no domain loss and no target
        batches, `warm_start.pretrain_epochs` epochs, `warm_start.pretrain_set` applied, no warm start."""
        raw = self.to_dict()
        raw["warm_start"] = {}
        params = {
            "train.adv_weight": 0.0,
            "train.target_in_bn": False,
            "train.init_from": None,
            "train.epochs": max(1, self.warm_start.pretrain_epochs),
            **self.warm_start.pretrain_set,
        }
        for dotted, value in params.items():
            _set_dotted(raw, dotted, value, path=None)
        return config_from_dict(raw)

    def with_params(self, params: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted keys (`train.adv_weight`) set, each value checked against its field."""
        raw = self.to_dict()
        for dotted, value in params.items():
            _set_dotted(raw, dotted, value, path=None)
        return config_from_dict(raw)


_ADAPTER = TypeAdapter(ExperimentConfig)
SECTIONS = tuple(f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "name")


# --------------------------------------------------------------------------------------------- validation


def config_from_dict(raw: dict, *, path: str | None = None) -> ExperimentConfig:
    """Validate a plain dict (from YAML) into an ExperimentConfig; errors name the file and dotted key."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections", path=path)
    raw = copy.deepcopy(raw)
    for section in SECTIONS:
        if raw.get(section) is None and section in raw:
            raw[section] = {}  # `train:` with nothing under it: the section's defaults
    if isinstance(raw.get("train"), dict) and "model" in raw["train"]:
        raise ConfigError("set the network in the top-level 'model' section", path=path, key="train.model")
    if isinstance(raw.get("model"), dict):
        raw["model"] = {"num_joints": len(LSP14), **raw["model"]}
    try:
        config = _ADAPTER.validate_python(raw)
    except ValidationError as error:
        raise from_validation(error, path=path) from None
    _check_across_sections(config, path)
    # Local paths absolute here, on the driver: trials and Ray Data tasks run in other working directories.
    config.storage = dataclasses.replace(config.storage, path=storage.absolute(config.storage.path))
    config.data = dataclasses.replace(config.data, shards=storage.absolute(config.data.shards))
    return config


def _check_across_sections(config: ExperimentConfig, path: str | None) -> None:
    """The rules no single section can check."""
    if config.model.num_joints != len(LSP14):
        raise ConfigError(f"must be {len(LSP14)} (the LSP-14 joint set)", path=path, key="model.num_joints")
    if not config.data.demo and not config.data.source and not config.data.shards:
        raise ConfigError(
            "name a data source: demo: true, source: surreal:DIR (+ targets), or existing shards",
            path=path,
            key="data",
        )
    if config.train.device == "cuda" and config.resources.gpu == 0:
        raise ConfigError(
            "is cuda but resources.gpu is 0: Ray gives each trial no GPU; set resources.gpu (e.g. 1 or 0.5)",
            path=path,
            key="train.device",
        )
    if config.data.target_labels == "none" and needs_target_labels(config.search.metric):
        raise ConfigError(
            f"{config.search.metric!r} reads target labels but data.target_labels is none: select by a "
            f"label-free metric ({', '.join(m for m in LABEL_FREE_METRICS if not m.startswith(SOURCE_VAL))} "
            f"or a {SOURCE_VAL}* one)",
            path=path,
            key="search.metric",
        )
    for dotted, spec in config.search.space.items():
        _check_searched_key(config, dotted, spec, path)
    _check_pretrain_set(config, path)


def _check_pretrain_set(config: ExperimentConfig, path: str | None) -> None:
    """`warm_start.pretrain_set` names train/augment keys, and the pretraining config they make is valid."""
    for dotted in config.warm_start.pretrain_set:
        section, _, name = dotted.partition(".")
        if section not in ("train", "augment") or name not in {
            f.name for f in dataclasses.fields(getattr(config, section))
        }:
            raise ConfigError(
                "names a train.<key> or augment.<key> (the network itself must be the trials' own)",
                path=path,
                key=f"warm_start.pretrain_set.{dotted}",
            )
    if config.warm_start.pretrain_set:
        try:
            config.pretrain_config()
        except ConfigError as error:
            raise ConfigError(str(error), path=path, key="warm_start.pretrain_set") from None


def _check_searched_key(config: ExperimentConfig, dotted: str, spec: ParamSpec, path: str | None) -> None:
    """A searched key names a field, its draw type suits the field, and every value it can draw is valid."""
    key = f"search.space.{dotted}"
    section, _, name = dotted.partition(".")
    if section not in SEARCHABLE_SECTIONS or not name:
        raise ConfigError(
            f"searched keys look like <section>.<key> with section in {SEARCHABLE_SECTIONS}",
            path=path,
            key=key,
        )
    target = getattr(config, section)
    if name not in {f.name for f in dataclasses.fields(target)} or (section == "train" and name == "model"):
        raise ConfigError(f"{section} has no key {name!r}", path=path, key=key)
    if section == "data" and name != "brightness":
        raise ConfigError("of the data section only 'brightness' can be searched", path=path, key=key)
    annotation = typing.get_type_hints(type(target))[name]
    if spec.type in ("uniform", "loguniform") and _is_int(annotation):
        raise ConfigError(f"{dotted} is an integer: search it with type: int", path=path, key=key)
    drawn = spec.values if spec.type == "choice" else [spec.low, spec.high]
    for value in drawn:
        if spec.type == "int":
            value = int(value)
        try:  # the field's own checks (type, bounds, allowed names) on every value the search can draw
            dataclasses.replace(target, **{name: value})
        except ValidationError as error:
            raise from_validation(error, path=path, spell=lambda _: key) from None


def _is_int(annotation: Any) -> bool:
    """Whether a field's type hint (Annotated stripped) is an int or an optional int."""
    return int in (typing.get_args(annotation) or (annotation,))


# --------------------------------------------------------------------------------------------- YAML


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML (no objects) with `1e-3` read as a float (YAML 1.1 reads it as a string), a duplicate
    key an error (not "the last one wins"), and no aliases (a few hundred bytes of nested aliases would
    otherwise expand into a huge value, and a huge error message)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a posetune config", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


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


def load_yaml(text: str, *, where: str | None = None, key: str | None = None):
    """Parse YAML text safely; a syntax error, duplicate key or alias is a one-line ConfigError."""
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None and key is None else ""
        raise ConfigError(f"not valid YAML: {problem}{at}", path=where, key=key) from None


# --------------------------------------------------------------------------------------------- files


def load_config(
    path: str | os.PathLike, overrides: list[str] | None = None, values: dict[str, Any] | None = None
) -> ExperimentConfig:
    """Read a YAML config (a path, or the name of a shipped config such as `demo`) and apply
    `key=value` overrides (values parsed as YAML: `train.lr=1e-3`, `data.targets=[lsp:/data/lsp]`), then
    `values`, dotted keys set to values as they are: what a CLI option such as `--storage` gives is a
    value, never YAML text (`--storage 'runs #1'` is that folder, not `runs` and a comment)."""
    path = resolve_config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text (byte {error.start})", path=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read it: {error.strerror}", path=str(path)) from None
    raw = load_yaml(text, where=str(path))
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections", path=str(path))
    for override in overrides or []:
        apply_override(raw, override, path=str(path))
    _unsearch_fixed(raw, overrides or [], path=str(path))
    for dotted, value in (values or {}).items():
        _set_dotted(raw, dotted, value, path=str(path))
    return config_from_dict(raw, path=str(path))


def _unsearch_fixed(raw: dict, overrides: list[str], *, path: str | None) -> None:
    """A key the user fixes with an override (`--set train.lr=1e-3`, or `--set train={lr: 1e-3}`) leaves
    the config's search space: a shipped config searches train.lr, and the user's value must be the one
    every trial trains with (the search would otherwise draw over it)."""
    space = (raw.get("search") or {}).get("space")
    if not isinstance(space, dict):
        return
    for override in overrides:
        key, _, text = override.partition("=")
        key = key.strip()
        fixed = [key]
        if key in SECTIONS:  # a whole section given as a mapping: each of its keys is fixed
            value = load_yaml(text, where=path, key=f"--set {key}")
            fixed = [f"{key}.{name}" for name in value] if isinstance(value, dict) else []
        for dotted in fixed:
            space.pop(dotted, None)


def apply_override(raw: dict, override: str, *, path: str | None = None) -> None:
    """Set `key=value` (value parsed as YAML) in `raw`; a whole section only from a mapping, merged in."""
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"an override looks like key=value, got {override!r}", path=path, key="--set")
    value = load_yaml(text, where=path, key=f"--set {key}")
    if "." not in key and key in SECTIONS:
        if not isinstance(value, dict):
            raise ConfigError(
                f"is a section: set one of its keys ({key}.<key>=...) or give a mapping ({key}={{...}})",
                path=path,
                key=f"--set {key}",
            )
        section = raw.get(key)
        raw[key] = {**section, **value} if isinstance(section, dict) else value
        return
    _set_dotted(raw, key, value, path=path)


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


def resolve_config_path(path: str | os.PathLike) -> Path:
    """A config file path, or the name of one shipped in search/configs (`demo`, `surreal_lsp`).

    A name only: a path with a folder in it, or a missing file with a suffix other than the shipped
    file's own name, is never swapped for a shipped config."""
    text = str(path)
    candidate = Path(text).expanduser()
    if candidate.is_file():
        return candidate
    shipped = CONFIG_DIR / f"{candidate.stem}.yaml"
    is_name = os.sep not in text and "/" not in text and text in (candidate.stem, shipped.name)
    if is_name and shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"no such config file (shipped configs, by name: {known})", path=text)


def dump_config(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
