"""`posetune train`: one configuration end to end, without Ray Tune.

Takes the same experiment config as `posetune search launch` (model, train, augment, data; the search
sections are ignored) and makes the shards first if they don't exist (the demo data included). Writes into
--out: config.yaml (resolved), checkpoints/epoch_XXXX/, metrics.jsonl, metrics.csv and predictions.png (the
last checkpoint's predictions, red, and the truth, green, over target-val images).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from pathlib import Path

from models import metric_names as names
from search.commands.arguments import add_config, add_overrides

PREVIEW_IMAGES = 8


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train one configuration (no search): checkpoints, metrics.jsonl/csv, a predictions PNG",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(parser)
    add_overrides(parser)
    parser.add_argument(
        "--data", help="shards: a `posetune data enhance` output, or a root (sets data.shards)"
    )
    parser.add_argument("--out", help="output directory (default: runs/train-<time>)")
    parser.add_argument("--resume", help="a checkpoint directory of this run to continue from")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


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
        jsonl = "".join(json.dumps(r) + "\n" for r in self.rows)  # a bad value fails before any write
        csv_text = io.StringIO()
        writer = csv.DictWriter(csv_text, fieldnames=list(dict.fromkeys(k for r in self.rows for k in r)))
        writer.writeheader()
        writer.writerows(self.rows)
        _replace(self.out / "metrics.jsonl", jsonl)
        _replace(self.out / "metrics.csv", csv_text.getvalue())
        print(
            f"epoch {int(metrics['epoch'])}: train_loss {metrics['train_loss']:.4g}  "
            + "".join(
                f"{prefix.rstrip('_')} pdj20 {metrics[prefix + names.PDJ20]:.3f} rmse {metrics[prefix + names.RMSE]:.2f}  "
                for prefix in names.VAL_PREFIXES
            )
            + f"lr {metrics['lr']:.3g}",
            flush=True,
        )


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` atomically: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _is_train_run(fs, path: str) -> bool:
    """Whether the folder at `path` holds a run `posetune train` wrote (its marker; runs from before the
    marker: their config.yaml and metrics.jsonl)."""
    from data_pipeline.outputs import has_marker

    return has_marker(fs, path) or all(os.path.isfile(os.path.join(path, f)) for f in ("config.yaml", "metrics.jsonl"))


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that `posetune --help` does not load torch and Ray.
    from data_pipeline.manifest import shards_exist
    from data_pipeline.outputs import check_output, mark
    from models.overlay import render_checkpoint
    from models.train import fit
    from search.cluster import init_ray
    from search.config import dump_config, load_config
    from search.shards import build_train_data, prepare_shards, shard_dir

    config = load_config(args.config, args.overrides, {"data.shards": args.data} if args.data else None)
    out = Path(args.out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}")
    check_output(  # before any data is made or read
        out,
        folder=True,
        inputs=[p for p in (args.config, config.shards_root) if os.path.exists(p)],
        overwrite=args.resume is not None,
        owned=_is_train_run,
        again="continue it with --resume CHECKPOINT_DIR, or choose another --out",
    )
    if not shards_exist(shard_dir(config)):
        init_ray(None, {})
        prepare_shards(config)
    data = build_train_data(config)
    out.mkdir(parents=True, exist_ok=True)
    mark(out, "train")
    (out / "config.yaml").write_text(dump_config(config))
    log = MetricsLog(out)
    fit(
        config.train_config(),
        data,
        log,
        str(out),
        resume_from=args.resume,
        progress=not args.no_progress,
        keep_checkpoints=None,
    )
    if log.checkpoints:
        render_checkpoint(log.checkpoints[-1], data.target_val, out / "predictions.png", n=PREVIEW_IMAGES)
    print(f"wrote {out}/: config.yaml, checkpoints/, metrics.jsonl, metrics.csv, predictions.png")
    return 0
