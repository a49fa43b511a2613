"""Make sure a config's Parquet shards exist before trials start: the enhancement stage runs first.

Enhancement is a separate Ray Data stage on purpose: inside a trial it would deadlock (trials hold the
CPUs), and its output is shared by every trial of the search (and by later searches).
"""

from __future__ import annotations

import logging
import os

from search.config import ExperimentConfig, join_uri
from search.errors import ConfigError

log = logging.getLogger(__name__)


def shards_exist(shard_dir: str) -> bool:
    """A finished enhancement leaves its manifest last, so its presence means complete shards."""
    import pyarrow.fs

    from search.tuner import filesystem_for

    fs, path = filesystem_for(shard_dir)
    return fs.get_file_info(f"{path}/manifest.json").type == pyarrow.fs.FileType.File


def shard_dir(config: ExperimentConfig, brightness: bool | None = None) -> str:
    """The shards for one brightness setting.

    `data.shards` is either one `posetune data enhance` output (it holds manifest.json; its own setting
    must then agree with the one asked for) or a root under which the search keeps `centred/` and `raw/`.
    """
    brightness = config.data.brightness if brightness is None else brightness
    root = config.shards_root
    if not shards_exist(root):
        return join_uri(root, "centred" if brightness else "raw")
    from data_pipeline.loader import read_manifest

    made_with = read_manifest(root).get("settings", {}).get("brightness")
    if made_with is not None and bool(made_with) != brightness:
        raise ConfigError(
            f"these shards were made with brightness centring {'on' if made_with else 'off'}, the config "
            f"asks for {'on' if brightness else 'off'}: point data.shards at a root or other shards",
            path=root,
            key="data.brightness",
        )
    return root


def brightness_variants(config: ExperimentConfig) -> list[bool]:
    """Which brightness settings trials will ask for: the config's, and every searched choice."""
    variants = {config.data.brightness}
    spec = config.search.space.get("data.brightness")
    if spec is not None:
        variants |= {bool(v) for v in (spec.values or [])}
    return sorted(variants)


def demo_data_dir(config: ExperimentConfig) -> str:
    """Where the procedural demo set is generated: beside local shards, else in the local cache."""
    root = config.shards_root
    if "://" in root:
        root = os.path.expanduser(os.environ.get("POSETUNE_CACHE", "~/.cache/posetune"))
    return join_uri(root, f"demo-data-seed{config.data.demo_seed}")


def source_and_targets(config: ExperimentConfig) -> tuple[list[str], list[str]]:
    """The enhancement inputs as `format:path` specs, generating the demo set when asked."""
    if config.data.demo:
        from data_pipeline.procedural import write_demo

        out = demo_data_dir(config)
        if not os.path.isdir(os.path.join(out, "lsp")):
            log.info("generating the procedural demo data in %s", out)
            kwargs = {} if config.data.demo_clips is None else {"clips": config.data.demo_clips}
            write_demo(out, seed=config.data.demo_seed, **kwargs)
        return [f"surreal:{out}/surreal"], [f"lsp:{out}/lsp"]
    return [config.data.source] if config.data.source else [], list(config.data.targets)


def prepare_shards(config: ExperimentConfig) -> list[str]:
    """Run the Ray Data enhancement for each shard set the search needs and that doesn't exist yet."""
    from data_pipeline.pipeline import run_enhancement

    made = []
    for brightness in brightness_variants(config):
        out = shard_dir(config, brightness)
        if shards_exist(out):
            continue
        sources, targets = source_and_targets(config)
        if not sources:
            raise ConfigError(
                f"no shards at {out} and no data.source (or data.demo) to make them from", key="data"
            )
        log.info("enhancing into %s (brightness centring %s)", out, "on" if brightness else "off")
        run_enhancement(
            sources=sources,
            targets=targets,
            out=out,
            size=config.data.size,
            frames_per_clip=config.data.frames_per_clip,
            brightness=brightness,
        )
        made.append(out)
    return made
