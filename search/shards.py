"""A config's Parquet shards: made before trials start (the enhancement stage), read by every trial.

Enhancement is a separate Ray Data stage on purpose: inside a trial it would deadlock (trials hold the
CPUs), and its output is shared by every trial of the search (and by later searches). Trials read the
shards with pyarrow (ShardDataset), never with Ray Data: Ray Data inside a trial deadlocks once trials hold
every CPU (ray-project/ray#29662).
"""

from __future__ import annotations

import dataclasses
import logging
import os

from data_pipeline import storage
from data_pipeline.demo import demo_exists, write_demo
from data_pipeline.enhance import brightness_mode
from data_pipeline.loader import ShardDataset
from data_pipeline.manifest import read_shards_manifest, shards_exist
from data_pipeline.pipeline import run_enhancement
from data_pipeline.schema import check_schema_version
from models.train import TrainData
from search.config import ExperimentConfig
from search.errors import ConfigError

log = logging.getLogger(__name__)


# The folder under a shards root that holds each brightness step's shards ("raw" and "centred" as before
# there were variants, so older roots stay valid): two steps never share shards.
BRIGHTNESS_DIRS = {"none": "raw", "mean": "centred", "reinhard": "reinhard"}


def shard_dir(config: ExperimentConfig, brightness: bool | str | None = None) -> str:
    """The shards for one brightness step (`data.brightness` unless given; a name or the older boolean).

    `data.shards` is either one `posetune data enhance` output (it holds shards.json; the step it was
    made with must then be the one asked for) or a root under which the search keeps one folder per step
    (BRIGHTNESS_DIRS), suffixed by `demo_suffix` when `data.demo` asks for a non-default demo target.
    """
    mode = brightness_mode(config.data.brightness if brightness is None else brightness)
    root = config.shards_root
    if not shards_exist(root):
        return storage.join(root, BRIGHTNESS_DIRS[mode] + (demo_suffix(config) if config.data.demo else ""))
    made_with = read_shards_manifest(root).get("settings", {}).get("brightness")
    if made_with is not None and brightness_mode(made_with) != mode:
        raise ConfigError(
            f"these shards were made with brightness step {brightness_mode(made_with)!r}, the config asks "
            f"for {mode!r}: point data.shards at a root or other shards",
            path=root,
            key="data.brightness",
        )
    return root


def brightness_variants(config: ExperimentConfig) -> list[str]:
    """Which brightness steps trials will ask for: the config's, and every searched choice."""
    variants = {brightness_mode(config.data.brightness)}
    spec = config.search.space.get("data.brightness")
    if spec is not None:
        variants |= {brightness_mode(v) for v in (spec.values or [])}
    return sorted(variants)


def demo_suffix(config: ExperimentConfig) -> str:
    """What sets a demo target apart from the default one in folder names: its domain-shift tag (non-default
    strengths) and its size (`data.demo_target_images`); "" for the default target."""
    tag, targets = config.data.shift.tag(), config.data.demo_target_images
    return (f"-{tag}" if tag else "") + (f"-targets{targets}" if targets else "")


def demo_data_dir(config: ExperimentConfig) -> str:
    """Where the procedural demo set is generated: beside local shards, else in the local cache; one folder
    per seed, domain shift and target size."""
    root = config.shards_root
    root = storage.resolve(root)[1] if storage.is_local(root) else storage.cache_dir()
    return os.path.join(root, f"demo-data-seed{config.data.demo_seed}" + demo_suffix(config))


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
    return TrainData(
        source_train=ShardDataset(
            root, "source", "train", size, config.augment, seed=seed, limit=config.data.max_source_train
        ),
        source_val=ShardDataset(root, "source", "val", size, None, seed=seed),
        target_val=ShardDataset(root, "target", "val", size, None, seed=seed),
        target_adapt=(
            ShardDataset(root, "target", "adapt", size, target_augment, seed=seed + 1)
            if config.train.uses_target
            else None
        ),
    )
