"""`posetune train`: one configuration end to end on the Parquet shards, without Ray Tune.

The config file is YAML with the experiment config's sections; this command reads `model`, `train`,
`augment` and `data.shards` (+ `data.max_source_train`) and ignores the search-only sections, so the same
file drives `posetune search launch`. Writes into --out: config.yaml (resolved), checkpoints/epoch_XXXX/,
metrics.jsonl, metrics.csv and predictions.png (the last checkpoint's predictions over target-val images).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any

import yaml

from search.errors import ConfigError

SECTIONS = ("model", "train", "augment", "data")
# Sections of the experiment config that only the search uses: accepted and ignored here.
SEARCH_ONLY = ("name", "search", "scheduler", "resources", "failure", "storage", "tracking")
DATA_KEYS = {"shards": "", "max_source_train": None}
PREVIEW_IMAGES = 8


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-3` (no dot) as a string; this loader reads it as the float everyone means."""


_Loader.add_implicit_resolver(
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


def _yaml(text: str):
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train one configuration (no search): checkpoints, metrics.jsonl/csv, a predictions PNG",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="YAML config (sections model, train, augment, data)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted key, value parsed as YAML (e.g. train.lr=1e-3, model.num_stacks=1)",
    )
    parser.add_argument("--data", help="Parquet shard root written by `posetune data enhance` (data.shards)")
    parser.add_argument("--out", help="output directory (default: runs/train-<time>)")
    parser.add_argument("--resume", help="a checkpoint directory of this run to continue from")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def load_train_config(path: str, overrides: list[str]) -> tuple[Any, dict, dict, dict]:
    """(TrainConfig, augment dict, data dict, the resolved raw dict) from a YAML file plus overrides."""
    from models.train import TrainConfig

    try:
        raw = _yaml(Path(path).read_text()) or {}
    except FileNotFoundError as error:
        raise ConfigError("no such config file", path=path) from error
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}", path=path) from error
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections", path=path)
    for key in raw:
        if key not in SECTIONS + SEARCH_ONLY:
            raise ConfigError(
                f"unknown section (known: {', '.join(SECTIONS + SEARCH_ONLY)})", path=path, key=key
            )
    resolved = {s: dict(raw.get(s) or {}) for s in SECTIONS}
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in SECTIONS or not name:
            raise ConfigError(f"--set wants SECTION.KEY=VALUE with SECTION in {SECTIONS}", key=item)
        resolved[section][name] = _yaml(value)
    for key in resolved["data"]:
        if key not in DATA_KEYS and key not in _experiment_data_keys():
            raise ConfigError("unknown key", path=path, key=f"data.{key}")
    data = {k: resolved["data"].get(k, default) for k, default in DATA_KEYS.items()}
    train_dict = dict(resolved["train"])
    if "model" in train_dict:
        raise ConfigError("the model goes in its own `model` section", path=path, key="train.model")
    if resolved["model"]:
        train_dict["model"] = {**dataclasses.asdict(TrainConfig().model), **resolved["model"]}
    try:
        config = TrainConfig.from_dict(train_dict)
    except (TypeError, ValueError) as error:
        raise ConfigError(str(error), path=path) from error
    return config, resolved["augment"], data, resolved


def _experiment_data_keys() -> set[str]:
    # Keys of the experiment config's `data` section that only `posetune data`/`search` act on.
    return {"source", "targets", "demo", "demo_clips", "demo_seed", "size", "frames_per_clip", "brightness"}


def load_data(shards: str, input_size: int, augment: dict, seed: int, max_source_train: int | None):
    """TrainData over the Parquet shards (contract B): source train/val, target val and adapt splits."""
    try:
        from data_pipeline.loader import AugmentConfig, ShardDataset
    except ImportError as error:
        raise ConfigError(f"the shard loader is not available ({error})", key="data.shards") from error
    from models.train import TrainData

    try:
        augment_config = AugmentConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()}
        )
    except TypeError as error:
        raise ConfigError(str(error), key="augment") from error

    def split(domain: str, name: str, aug=None, limit=None):
        return ShardDataset(shards, domain, name, input_size, augment=aug, seed=seed, limit=limit)

    return TrainData(
        source_train=split("source", "train", augment_config, max_source_train),
        source_val=split("source", "val"),
        target_val=split("target", "val"),
        target_adapt=split("target", "adapt"),
    )


class MetricsLog:
    """The report callback of a bare run: metrics.jsonl (appended) and metrics.csv (rewritten) per epoch."""

    def __init__(self, out: Path):
        self.out, self.rows, self.checkpoints = out, [], []
        jsonl = out / "metrics.jsonl"
        if jsonl.exists():  # a resumed run keeps the epochs it already logged
            self.rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]

    def __call__(self, metrics: dict, checkpoint_dir: str) -> None:
        row = {**metrics, "checkpoint": checkpoint_dir}
        self.rows = [r for r in self.rows if r.get("epoch") != metrics["epoch"]] + [row]
        self.checkpoints.append(checkpoint_dir)
        with open(self.out / "metrics.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in self.rows)
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        with open(self.out / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        print(
            f"epoch {int(metrics['epoch'])}: train_loss {metrics['train_loss']:.4g}  "
            f"target_val pdj20 {metrics['target_val_pdj20']:.3f} rmse {metrics['target_val_rmse']:.2f}  "
            f"source_val pdj20 {metrics['source_val_pdj20']:.3f} rmse {metrics['source_val_rmse']:.2f}  "
            f"lr {metrics['lr']:.3g}",
            flush=True,
        )


def draw_predictions(checkpoint_dir: str, dataset, path: Path) -> None:
    """Predict the first images of `dataset` with the checkpoint and write them with skeletons as a PNG."""
    import numpy as np

    from models.overlay import overlay_grid, write_png
    from models.train import load_checkpoint, predict

    model, config, _ = load_checkpoint(checkpoint_dir)
    samples = [dataset[i] for i in range(min(PREVIEW_IMAGES, len(dataset)))]
    images = np.stack([s["image"] for s in samples])
    pred, _ = predict(model, images, config)
    gt = np.stack([s["joints"] for s in samples])
    visible = np.stack([s["visible"] for s in samples])
    write_png(path, overlay_grid(images, pred, gt, visible))


def run(args: argparse.Namespace) -> int:
    from models.train import fit

    config, augment, data_keys, resolved = load_train_config(args.config, args.overrides)
    shards = args.data or data_keys["shards"]
    if not shards:
        raise ConfigError(
            "no shard root: pass --data DIR or set data.shards", path=args.config, key="data.shards"
        )
    out = Path(args.out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    resolved["data"]["shards"] = shards
    resolved["model"] = config.model.to_dict()
    resolved["train"] = {k: v for k, v in config.to_dict().items() if k != "model"}
    (out / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    data = load_data(shards, config.model.input_size, augment, config.seed, data_keys["max_source_train"])
    log = MetricsLog(out)
    fit(
        config,
        data,
        log,
        str(out),
        resume_from=args.resume,
        progress=not args.no_progress,
        keep_checkpoints=None,
    )
    if log.checkpoints:
        draw_predictions(log.checkpoints[-1], data.target_val, out / "predictions.png")
    print(f"wrote {out}/: checkpoints/, metrics.jsonl, metrics.csv, predictions.png")
    return 0
