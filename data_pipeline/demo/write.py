"""The whole demo set: the source (out/surreal, SURREAL format) and the target (out/lsp, LSP format),
split, marked as posetune's, staged and swapped into place."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow.fs as pafs
import scipy.io
from tqdm import tqdm

from data_pipeline.demo.source import render_clip, video_fourcc, write_clip
from data_pipeline.demo.target import render_target
from data_pipeline.outputs import check_kind, check_output
from data_pipeline.shift import DomainShift, jpeg_quality

DEMO_PARTS = ("surreal", "lsp")
DEMO_MARKER = "posetune-demo.json"  # in each part: marks a set write_demo wrote (and may replace)
SOURCE_SPLIT_SHARES = {"train": 0.7, "val": 0.15, "test": 0.15}
TARGET_PER_CLIP = 10


def _split_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Counts per split that add up to `total` (largest remainders first, ties to the earlier split),
    every split non-empty when total >= len(shares)."""
    names = list(shares)
    counts = {name: int(total * shares[name]) for name in names}
    by_remainder = sorted(names, key=lambda n: -(total * shares[n] - counts[n]))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    if total >= len(names):
        for name in names[1:]:
            if counts[name] == 0:
                counts[name], counts[names[0]] = 1, counts[names[0]] - 1
    return counts


def demo_exists(out: str | os.PathLike, shift: DomainShift | None = None) -> bool:
    """Whether `out` holds a complete demo set written by `write_demo` (both parts carry its marker) with
    the domain shift `shift` (default strengths when None)."""
    wanted = (DomainShift() if shift is None else shift).as_dict()
    for part in DEMO_PARTS:
        marker = Path(out) / part / DEMO_MARKER
        try:
            written = json.loads(marker.read_text())
        except (OSError, ValueError):
            return False
        if written.get("shift", DomainShift().as_dict()) != wanted:
            return False
    return True


def _has_demo_marker(fs, path: str) -> bool:
    return fs.get_file_info(f"{path}/{DEMO_MARKER}").type == pafs.FileType.File


def write_demo(
    out: str | os.PathLike,
    clips: int = 24,
    seed: int = 0,
    frames: tuple[int, int] = (10, 30),
    target_images: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
    shift: DomainShift | None = None,
) -> dict:
    """Write the demo source set (out/surreal, SURREAL format) and target set (out/lsp, LSP format).

    `clips` source clips of `frames` (min, max) frames split 70/15/15 into train/val/test, and
    `target_images` (default 10 per clip) LSP-style images split 50/25/25 into adapt/val/test, departing
    from the source by `shift`'s factors (default strengths when None; the source never changes with it).
    Deterministic for `seed`. Returns a summary of what was written.

    Both sets are written into a hidden staging folder inside `out` and renamed into place at the end, so
    an interrupted run leaves no half-written set for a later run to reuse. `overwrite` replaces only
    sets this function wrote before (they carry its marker file); anything else named surreal/ or lsp/
    is refused, never deleted.
    """
    if clips < 1 or frames[0] < 1 or frames[1] < frames[0]:
        raise ValueError(f"need clips >= 1 and 1 <= frames[0] <= frames[1], got {clips} and {frames}")
    out = Path(out)
    check_kind(out, folder=True)
    for part in DEMO_PARTS:
        check_output(out / part, folder=True, overwrite=overwrite, owned=_has_demo_marker)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-staging-", dir=out))
    try:
        shift = DomainShift() if shift is None else shift
        summary = _write_demo_sets(staging, clips, seed, frames, target_images, progress, shift)
        for part in DEMO_PARTS:
            marker = {k: summary[k] for k in ("seed", "clips", "frames", "target_images", "shift")}
            (staging / part / DEMO_MARKER).write_text(json.dumps({"written_by": "posetune", **marker}))
        for part in DEMO_PARTS:  # the new set in place first, the old one deleted after
            if (out / part).exists():
                os.replace(out / part, staging / f"old-{part}")
            os.replace(staging / part, out / part)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary.update(out=str(out), surreal_root=str(out / "surreal"), lsp_root=str(out / "lsp"))
    return summary


def _write_demo_sets(
    out: Path,
    clips: int,
    seed: int,
    frames: tuple[int, int],
    target_images: int | None,
    progress: bool,
    shift: DomainShift,
) -> dict:
    started = time.perf_counter()
    surreal, lsp = out / "surreal", out / "lsp"
    n_target = TARGET_PER_CLIP * clips if target_images is None else target_images
    split_clips = _split_counts(clips, SOURCE_SPLIT_SHARES)
    bar = tqdm(total=clips + n_target, desc="demo data", unit="item", disable=not progress, file=sys.stderr)
    summary: dict = {"out": str(out), "surreal_root": str(surreal), "lsp_root": str(lsp), "seed": seed}
    summary["shift"] = shift.as_dict()
    summary["clips"], summary["frames"] = split_clips, _write_source(surreal, split_clips, seed, frames, bar)
    splits = _write_target(lsp, n_target, seed, shift, bar)
    bar.close()
    summary["target_images"] = {name: len(v) for name, v in splits.items()}
    summary["fourcc"] = video_fourcc()
    summary["bytes"] = {"surreal": _tree_bytes(surreal), "lsp": _tree_bytes(lsp)}
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _write_source(
    surreal: Path, split_clips: dict[str, int], seed: int, frames: tuple[int, int], bar: tqdm
) -> dict[str, int]:
    """The source clips, two per sequence as SURREAL's c0001 and c0002; returns the frames per split."""
    written, index = {}, 0
    for split, n in split_clips.items():
        written[split] = 0
        for _ in range(n):
            rng = np.random.default_rng([seed, 0, index])
            seq_no, clip_no = index // 2 + 1, index % 2 + 1
            sequence = f"{seq_no:02d}_01"
            n_frames = int(rng.integers(frames[0], frames[1] + 1))
            clip = render_clip(rng, n_frames, sequence, clip_no)
            write_clip(clip, surreal / "cmu" / split / "run0" / sequence)
            written[split] += n_frames
            index += 1
            bar.update(1)
    return written


def _write_target(lsp: Path, n_target: int, seed: int, shift: DomainShift, bar: tqdm) -> dict[str, list[int]]:
    """The target images, joints.mat (LSP's (3, 14, N): x, y, 1 = occluded) and splits.json (50/25/25
    adapt/val/test, 1-based image ids); returns the splits."""
    images_dir = lsp / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    joints = np.zeros((3, 14, n_target), np.float64)
    for i in range(n_target):
        rng = np.random.default_rng([seed, 1, i])
        image, j, occluded = render_target(rng, shift)
        quality = jpeg_quality(np.random.default_rng([seed, 2, i]), shift.degradation)
        path = images_dir / f"im{i + 1:04d}.jpg"
        if not cv2.imwrite(
            str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        ):
            raise OSError(f"{path}: could not write JPEG")
        joints[:2, :, i] = j.T
        joints[2, :, i] = occluded
        bar.update(1)
    scipy.io.savemat(lsp / "joints.mat", {"joints": joints})
    target_counts = _split_counts(n_target, {"adapt": 0.5, "val": 0.25, "test": 0.25})
    ids = iter(range(1, n_target + 1))
    splits = {name: [next(ids) for _ in range(count)] for name, count in target_counts.items()}
    (lsp / "splits.json").write_text(json.dumps(splits))
    return splits


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
