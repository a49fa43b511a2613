"""Demo data enhanced into Parquet shards through the CLI, as a user makes them: shared by the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.common import ROOT
from data_pipeline.manifest import SHARDS_MANIFEST
from search.config import load_config


def posetune(argv: list[str]) -> str:
    """Run `posetune ARGV` in a subprocess (a fresh Ray each time); its stdout, or an error with its tail."""
    done = subprocess.run(
        [sys.executable, "-m", "search.cli", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"posetune {' '.join(argv[:2])} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def demo_shards(work: Path, clips: int, size: int, brightness: str | None = None) -> Path:
    """`posetune data demo` (`clips` clips) then `posetune data enhance --size SIZE` into WORK/shards, once,
    with the brightness step `brightness` (default: the demo config's, so `--config demo` reads them)."""
    if brightness is None:
        brightness = load_config("demo").data.brightness
    shards = work / "shards"
    if not (shards / SHARDS_MANIFEST).is_file():
        demo = work / "demo"
        posetune(["data", "demo", "--out", str(demo), "--clips", str(clips), "--overwrite"])
        posetune(
            ["data", "enhance", "--source", f"surreal:{demo / 'surreal'}", "--target", f"lsp:{demo / 'lsp'}",
             "--out", str(shards), "--size", str(size), "--brightness", brightness]
        )  # fmt: skip
    return shards
