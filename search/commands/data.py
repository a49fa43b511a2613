"""`posetune data …`: make the demo data, look at it, and enhance datasets into Parquet shards."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="demo data, previews and the Ray Data enhancement job")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    demo = data_sub.add_parser(
        "demo",
        help="write the procedural demo data: SURREAL-format source clips and an LSP-format target set",
    )
    demo.add_argument("--out", required=True, help="folder to write surreal/ and lsp/ into")
    demo.add_argument(
        "--clips", type=int, default=24, help="source clips (10-30 frames each; 10 target images per clip)"
    )
    demo.add_argument("--seed", type=int, default=0, help="the same seed writes the same data")
    demo.add_argument("--overwrite", action="store_true", help="replace surreal/ and lsp/ if they exist")
    demo.set_defaults(func=run_demo)

    show = data_sub.add_parser("show", help="draw a grid of source and target samples with their skeletons")
    show.add_argument("dir", help="a folder written by `posetune data demo` (holding surreal/ and lsp/)")
    show.add_argument("--out", required=True, help="PNG file to write")
    show.add_argument("--n", type=int, default=12, help="samples to draw, half from each domain")
    show.set_defaults(func=run_show)


def run_demo(args: argparse.Namespace) -> int:
    from data_pipeline import procedural
    from data_pipeline.errors import DataError

    out = Path(args.out)
    if args.clips < 1:
        raise DataError(out, f"--clips must be at least 1, got {args.clips}")
    existing = [out / name for name in ("surreal", "lsp") if (out / name).exists()]
    if existing and not args.overwrite:
        raise DataError(existing[0], "already exists; pass --overwrite to replace the demo data")
    procedural.remove_demo(out)
    summary = procedural.write_demo(out, clips=args.clips, seed=args.seed, progress=True)
    frames = summary["frames"]
    print(f"source (SURREAL format, {summary['fourcc']} video): {summary['surreal_root']}")
    for split, n in summary["clips"].items():
        print(f"  {split:5s} {n:3d} clips, {frames[split]:4d} frames")
    print(f"target (LSP format): {summary['lsp_root']}")
    print("  " + ", ".join(f"{split} {n}" for split, n in summary["target_images"].items()) + " images")
    mib = {k: v / 2**20 for k, v in summary["bytes"].items()}
    print(
        f"on disk: surreal {mib['surreal']:.1f} MiB, lsp {mib['lsp']:.1f} MiB; took {summary['seconds']:.1f} s"
    )
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2))
    return 0


def run_show(args: argparse.Namespace) -> int:
    import cv2

    from data_pipeline.errors import DataError
    from data_pipeline.preview import sample_grid
    from data_pipeline.readers import read_lsp, read_surreal

    root = Path(args.dir)
    n_source = (args.n + 1) // 2
    skipped: list = []
    # One frame per clip, so the grid shows different people.
    source = list(
        itertools.islice(
            read_surreal(root / "surreal", "train", frames_per_clip=1, skipped=skipped), n_source
        )
    )
    target = list(itertools.islice(read_lsp(root / "lsp"), args.n - len(source)))
    if not source and not target:
        raise DataError(root, "no samples to show")
    grid = sample_grid(source + target, columns=min(6, max(1, len(source) + len(target))))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise DataError(out, "could not write the image (is the extension .png?)")
    print(f"wrote {out}: {len(source)} source and {len(target)} target samples")
    for path, reason in skipped:
        print(f"skipped {path}: {reason}")
    return 0
