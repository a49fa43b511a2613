"""The demo set in a folder of the user's: `posetune data demo` writes it (SURREAL-format source clips in
surreal/, an LSP-format target set in lsp/, and demo_summary.json), `posetune data show` draws a grid of its
samples. (The demo set a search prepares for itself is cached by `search.shards`.)"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

from pydantic import ValidationError

from data_pipeline.demo import write_demo
from data_pipeline.errors import DataError
from data_pipeline.outputs import check_kind, check_output, replacing_file, written_by_posetune
from data_pipeline.preview import sample_grid, write_image
from data_pipeline.readers import read_lsp, read_surreal
from data_pipeline.shift import SHIFT_FACTORS, DomainShift
from search.errors import ConfigError, from_validation

DEMO_SUMMARY = "demo_summary.json"


def write_demo_set(
    out: str, *, clips: int, seed: int, overwrite: bool, shift: list[str], only: str | None = None
) -> dict:
    """Write the procedural demo set into `out` with its summary file, print what was written, return the
    summary. `shift` and `only` are `--shift FACTOR=STRENGTH` and `--only FACTOR` (see `parse_shift`)."""
    out = Path(out)
    if clips < 1:
        raise DataError(out, f"--clips must be at least 1, got {clips}")
    domain_shift = parse_shift(shift, only)
    summary_file = out / DEMO_SUMMARY  # write_demo checks surreal/ and lsp/ the same way
    check_output(summary_file, folder=False, overwrite=overwrite, owned=_is_demo_summary)
    summary = write_demo(out, clips=clips, seed=seed, progress=True, overwrite=overwrite, shift=domain_shift)
    frames = summary["frames"]
    print(f"source (SURREAL format, {summary['fourcc']} video): {summary['surreal_root']}")
    for split, n in summary["clips"].items():
        print(f"  {split:5s} {n:3d} clips, {frames[split]:4d} frames")
    print(f"target (LSP format): {summary['lsp_root']}")
    print("  domain shift: " + ", ".join(f"{name} {value:g}" for name, value in summary["shift"].items()))
    print("  " + ", ".join(f"{split} {n}" for split, n in summary["target_images"].items()) + " images")
    mib = {k: v / 2**20 for k, v in summary["bytes"].items()}
    print(
        f"on disk: surreal {mib['surreal']:.1f} MiB, lsp {mib['lsp']:.1f} MiB; took {summary['seconds']:.1f} s"
    )
    with replacing_file(summary_file) as tmp:
        tmp.write_text(json.dumps({"written_by": "posetune", **summary}, indent=2))
    return summary


def _is_demo_summary(fs, path: str) -> bool:
    """Whether `data demo` wrote the summary at `path` (it says so; older ones have its roots' keys)."""
    if written_by_posetune(fs, path):
        return True
    try:
        with fs.open_input_stream(path) as stream:
            old = json.loads(stream.read(1 << 20))
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and {"surreal_root", "lsp_root", "shift"} <= set(old)


def parse_shift(settings: list[str], only: str | None = None) -> DomainShift:
    """A DomainShift from `--only FACTOR` and `--shift FACTOR=STRENGTH` flags; a bad one is a ConfigError."""
    known = ", ".join(SHIFT_FACTORS)
    if only is not None and only not in SHIFT_FACTORS:
        raise ConfigError(f"unknown factor {only!r}; known: {known}", key="--only")
    shift = DomainShift() if only is None else DomainShift.only(only)
    values = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or name not in SHIFT_FACTORS:
            raise ConfigError(f"{item!r}: expected FACTOR=STRENGTH with FACTOR one of {known}", key="--shift")
        try:
            values[name] = float(value)
        except ValueError:
            raise ConfigError(f"{item!r}: the strength must be a number", key="--shift") from None
    try:
        return dataclasses.replace(shift, **values)
    except ValidationError as error:
        raise from_validation(error, prefix="--shift") from None


def show_samples(root: str, out: str, n: int) -> None:
    """Draw `n` samples of the demo set in `root`, half source and half target, with their skeletons into the
    image file `out`, and print what was drawn and which source files were skipped."""
    root, out = Path(root), Path(out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg") or out.is_dir():
        raise DataError(out, "--out names the image file to write: a .png or .jpg path")
    check_kind(out, folder=False)  # beside the data or inside its folder: it replaces none of it
    n_source = (n + 1) // 2
    skipped: list = []
    # One frame per clip, so the grid shows different people.
    source = list(
        itertools.islice(
            read_surreal(root / "surreal", "train", frames_per_clip=1, skipped=skipped), n_source
        )
    )
    target = list(itertools.islice(read_lsp(root / "lsp"), n - len(source)))
    if not source and not target:
        raise DataError(root, "no samples to show")
    grid = sample_grid(source + target, columns=min(6, max(1, len(source) + len(target))), cell=256)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, grid)
    print(f"wrote {out}: {len(source)} source and {len(target)} target samples")
    for path, reason in skipped:
        print(f"skipped {path}: {reason}")
