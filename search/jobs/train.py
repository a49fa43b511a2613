"""`posetune train`: one configuration end to end without Ray Tune, into a folder of its own: config.yaml
(resolved), checkpoints/epoch_XXXX/, metrics.jsonl and metrics.csv (`MetricsLog`, fit's report callback) and
predictions.png (the last checkpoint's predictions beside the truth on target-val images)."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

from data_pipeline.manifest import shards_exist
from data_pipeline.outputs import check_output, has_marker, mark
from models import metric_names as names
from models.overlay import render_checkpoint
from models.train import fit
from search.cluster import init_ray
from search.config import dump_config, load_config
from search.shards import build_train_data, prepare_shards, shard_dir

PREVIEW_IMAGES = 8


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
    return has_marker(fs, path) or all(os.path.isfile(os.path.join(path, f)) for f in ("config.yaml", "metrics.jsonl"))


def train_run(
    config_name: str, overrides: list[str], *, data: str | None = None, out: str | None = None,
    resume: str | None = None, progress: bool = True,
) -> Path:  # fmt: skip
    """Train the experiment config `config_name` (a file or a shipped name, with `--set` overrides; `data`
    sets data.shards) once into `out` (default runs/train-<time>), making its shards first if they don't
    exist; `resume` continues from a checkpoint directory of that run. Returns the run's folder."""
    config = load_config(config_name, overrides, {"data.shards": data} if data else None)
    out_dir = Path(out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}")
    check_output(  # before any data is made or read
        out_dir,
        folder=True,
        inputs=[p for p in (config_name, config.shards_root) if os.path.exists(p)],
        overwrite=resume is not None,
        owned=_is_train_run,
        again="continue it with --resume CHECKPOINT_DIR, or choose another --out",
    )
    if not shards_exist(shard_dir(config)):
        init_ray(None, {})
        prepare_shards(config)
    train_data = build_train_data(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    mark(out_dir, "train")
    (out_dir / "config.yaml").write_text(dump_config(config))
    log = MetricsLog(out_dir)
    fit(
        config.train_config(),
        train_data,
        log,
        str(out_dir),
        resume_from=resume,
        progress=progress,
        keep_checkpoints=None,
    )
    if log.checkpoints:
        preview = out_dir / "predictions.png"
        render_checkpoint(log.checkpoints[-1], train_data.target_val, preview, n=PREVIEW_IMAGES)
    print(f"wrote {out_dir}/: config.yaml, checkpoints/, metrics.jsonl, metrics.csv, predictions.png")
    return out_dir
