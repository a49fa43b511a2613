"""A config's Parquet shards: made before trials start (the enhancement stage), read by every trial.

Enhancement is a separate Ray Data stage on purpose: inside a trial it would deadlock (trials hold the
CPUs), and its output is shared by every trial of the search (and by later searches). Trials read the
shards with pyarrow (ShardDataset), never with Ray Data: Ray Data inside a trial deadlocks once trials hold
every CPU (ray-project/ray#29662).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os

from data_pipeline import storage
from data_pipeline.demo import demo_exists, write_demo
from data_pipeline.enhance import brightness_mode
from data_pipeline.loader import ShardDataset
from data_pipeline.manifest import read_shards_manifest, shards_exist
from data_pipeline.pipeline import EnhanceSettings, run_enhancement
from data_pipeline.schema import check_schema_version
from models.loaders import TrainData
from search.config import DataConfig, ExperimentConfig
from search.errors import ConfigError
from search.experiment import locate

log = logging.getLogger(__name__)


# The folder under a shards root that holds each brightness step's shards, before the key of their other
# settings (`shards_key`): two steps, or two settings of anything that shapes the shards, never share shards.
BRIGHTNESS_DIRS = {"none": "raw", "mean": "centred", "reinhard": "reinhard"}
# The keys of `data` that shape no shard's content: where the shards live, the loader's subsample, and
# whether trials may read the target's labels (hidden when read, so one set of shards serves both).
NOT_SHAPING_SHARDS = ("shards", "max_source_train", "target_labels")


def demo_keys() -> tuple[str, ...]:
    """The `data` keys that shape the procedural demo set: every `demo_*` key and the target's `shift`
    (read from the config model, so a new `demo_*` key keys the caches too)."""
    return (*(f.name for f in dataclasses.fields(DataConfig) if f.name.startswith("demo_")), "shift")


def shards_settings(config: ExperimentConfig, brightness: bool | str | None = None) -> dict:
    """Everything in `data` that shapes the shards of one brightness step: the enhancement settings, and
    what is enhanced (the demo set's keys, or `source` and `targets`)."""
    data = config.to_dict()["data"]
    data["brightness"] = brightness_mode(config.data.brightness if brightness is None else brightness)
    unused = ("source", "targets") if config.data.demo else demo_keys()
    return {k: v for k, v in data.items() if k not in (*NOT_SHAPING_SHARDS, *unused)}


def demo_settings(config: ExperimentConfig) -> dict:
    """Everything in `data` that shapes the procedural demo set (`demo_keys`)."""
    data = config.to_dict()["data"]
    return {k: data[k] for k in demo_keys()}


def settings_key(settings: dict) -> str:
    """A short name for `settings` in folder names: the same settings give the same key, any change another."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def shard_dir(config: ExperimentConfig, brightness: bool | str | None = None) -> str:
    """The shards for one brightness step (`data.brightness` unless given; a name or the older boolean).

    `data.shards` is either one `posetune data enhance` output (it holds shards.json; the settings it was
    made with must then be the config's) or a root under which the search keeps one folder per brightness
    step and key of everything else that shapes the shards (`shards_settings`), e.g. `centred-3f2a9c1b04de`.
    """
    mode = brightness_mode(config.data.brightness if brightness is None else brightness)
    root = config.shards_root
    if not shards_exist(root):
        return storage.join(root, f"{BRIGHTNESS_DIRS[mode]}-{settings_key(shards_settings(config, mode))}")
    check_made_with(root, read_shards_manifest(root).get("settings", {}), config.data.enhance_settings(mode))
    return root


def check_made_with(root: str, made_with: dict, wanted: EnhanceSettings) -> None:
    """ConfigError naming the first enhancement setting in which the shards at `root` (their manifest's
    `made_with`) differ from the config's `wanted`, and both ways to make them agree."""
    for field in dataclasses.fields(EnhanceSettings):
        if field.name not in made_with:  # older manifests record fewer settings
            continue
        was, want = made_with[field.name], getattr(wanted, field.name)
        if field.name == "brightness":
            was = brightness_mode(was)
        if was == want:
            continue
        flag = "--" + field.name.replace("_", "-")
        what = "brightness step" if field.name == "brightness" else f"data.{field.name}"
        enhance = f"without {flag}" if want is None else f"with {flag} {want}"
        raise ConfigError(
            f"these shards were made with {what} {was!r}, the config asks for {want!r}: make them again "
            f"(`posetune data enhance` {enhance}, --overwrite), or --set data.{field.name}="
            f"{'null' if was is None else was}, or point data.shards at a root or other shards",
            path=root,
            key=f"data.{field.name}",
        )


def brightness_variants(config: ExperimentConfig) -> list[str]:
    """Which brightness steps trials will ask for: the config's, and every searched choice."""
    variants = {brightness_mode(config.data.brightness)}
    spec = config.search.space.get("data.brightness")
    if spec is not None:
        variants |= {brightness_mode(v) for v in (spec.values or [])}
    return sorted(variants)


def demo_data_dir(config: ExperimentConfig) -> str:
    """Where the procedural demo set is generated: beside local shards, else in the local cache; one folder
    per seed and key of every other demo key (`demo_settings`)."""
    root = config.shards_root
    root = locate(root)[1] if storage.is_local(root) else storage.cache_dir()
    key = settings_key(demo_settings(config))
    return os.path.join(root, f"demo-data-seed{config.data.demo_seed}-{key}")


def source_and_targets(config: ExperimentConfig) -> tuple[list[str], list[str]]:
    """The enhancement inputs as `format:path` specs, generating the demo set when asked."""
    if config.data.demo:
        out = demo_data_dir(config)
        if not demo_exists(out, config.data.shift):  # written whole or not at all: never half-reused
            log.info("generating the procedural demo data in %s", out)
            kwargs = {} if config.data.demo_clips is None else {"clips": config.data.demo_clips}
            if config.data.demo_target_images is not None:
                kwargs["target_images"] = config.data.demo_target_images
            write_demo(
                out,
                seed=config.data.demo_seed,
                frames=config.data.demo_frames,
                overwrite=True,
                shift=config.data.shift,
                **kwargs,
            )
        return [f"surreal:{out}/surreal"], [f"lsp:{out}/lsp"]
    return [config.data.source] if config.data.source else [], list(config.data.targets)


def needed_splits(config: ExperimentConfig, test: bool = False) -> list[tuple[str, str]]:
    """(domain, split) pairs the trials of `config` read; `test` adds the study's test splits."""
    needed = [("source", "train"), ("source", "val"), ("target", "val")]
    if config.train.adv_weight > 0 or "train.adv_weight" in config.search.space:
        needed.append(("target", "adapt"))
    if test:
        needed += [("source", "test"), ("target", "test")]
    return needed


def check_splits(config: ExperimentConfig, test: bool = False) -> None:
    """Refuse shards (that exist) missing a split the trials will read, before any trial fails on it.

    Every clip skipped, an unreadable joints.mat or a COCO file without a val split all show up here as a
    split with no samples in the shards manifest, instead of as every trial failing its retries.
    """
    for brightness in brightness_variants(config):
        root = shard_dir(config, brightness)
        if not shards_exist(root):
            continue
        manifest = read_shards_manifest(root)
        counts = manifest.get("counts", {})
        missing = [f"{d} {s}" for d, s in needed_splits(config, test) if not counts.get(d, {}).get(s)]
        if missing:
            skipped = manifest.get("skipped") or []
            why = (
                f"; {len(skipped)} inputs were skipped, e.g. {skipped[0]['path']}: {skipped[0]['reason']}"
                if skipped
                else ""
            )
            raise ConfigError(
                f"no samples in the {', '.join(missing)} split(s) that trials read (the shards hold "
                f"{ {d: dict(c) for d, c in counts.items()} }){why}",
                path=root,
                key="data.shards",
            )


def prepare_shards(config: ExperimentConfig) -> list[str]:
    """Run the Ray Data enhancement for each shard set the search needs and that doesn't exist yet."""
    made = []
    for brightness in brightness_variants(config):
        out = shard_dir(config, brightness)
        if shards_exist(out):
            check_schema_version(read_shards_manifest(out), out)  # older shards: say so before Ray starts
            continue
        sources, targets = source_and_targets(config)
        if not sources:
            raise ConfigError(
                f"no shards at {out} and no data.source (or data.demo) to make them from", key="data"
            )
        log.info("enhancing into %s (brightness step %s)", out, brightness)
        run_enhancement(sources, targets, out, config.data.enhance_settings(brightness))
        made.append(out)
    return made


def build_train_data(config: ExperimentConfig, brightness: bool | str | None = None) -> TrainData:
    """The four datasets `fit` needs, read from this config's shards."""
    root = shard_dir(config, brightness)
    size, seed = config.model.input_size, config.train.seed
    # Target images are real photos: they get the geometric augmentation but never the synthetic occluder.
    target_augment = dataclasses.replace(config.augment, occlusion_prob=0.0)
    # `data.target_labels: none`: trials never see a target label, even where the shards hold some.
    target_labels = config.data.target_labels != "none"
    return TrainData(
        source_train=ShardDataset(
            root, "source", "train", size, config.augment, seed=seed, limit=config.data.max_source_train
        ),
        source_val=ShardDataset(root, "source", "val", size, None, seed=seed),
        target_val=ShardDataset(root, "target", "val", size, None, seed=seed, labels=target_labels),
        target_adapt=(
            ShardDataset(root, "target", "adapt", size, target_augment, seed=seed + 1, labels=target_labels)
            if config.train.uses_target
            else None
        ),
    )
