"""`posetune data …`: make the demo data, look at it, and enhance datasets into Parquet shards."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


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
    demo.add_argument(
        "--overwrite", action="store_true",
        help="replace surreal/, lsp/ and demo_summary.json if they exist (only when posetune wrote them)",
    )  # fmt: skip
    demo.add_argument(
        "--shift",
        action="append",
        default=[],
        metavar="FACTOR=STRENGTH",
        help="strength of one domain-shift factor of the target, 0 (as the source) to 1 (default); repeatable. "
        "Factors: lighting, background, texture, occluders, degradation, framing",
    )
    demo.add_argument(
        "--only",
        metavar="FACTOR",
        default=None,
        help="start from every factor at 0 and this one at 1 (--shift still sets strengths)",
    )
    demo.set_defaults(func=run_demo_data)

    show = data_sub.add_parser("show", help="draw a grid of source and target samples with their skeletons")
    show.add_argument("dir", help="a folder written by `posetune data demo` (holding surreal/ and lsp/)")
    show.add_argument("--out", required=True, help="PNG file to write")
    show.add_argument("--n", type=int, default=12, help="samples to draw, half from each domain")
    show.set_defaults(func=run_show)

    register_enhance(data_sub)


def run_demo_data(args: argparse.Namespace) -> int:
    """Write the procedural demo set (`posetune data demo`)."""
    from search.jobs.demo_set import write_demo_set

    write_demo_set(
        args.out, clips=args.clips, seed=args.seed, overwrite=args.overwrite, shift=args.shift, only=args.only
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Draw a grid of a demo set's samples (`posetune data show`)."""
    from search.jobs.demo_set import show_samples

    show_samples(args.dir, args.out, args.n)
    return 0


# --- `posetune data enhance` ----------------------------------------------------------------------


def demo_enhance_defaults() -> dict:
    """`data enhance`'s defaults: the enhancement settings of the shipped demo config's `data` section (where
    it sets them), so `data enhance ... --out shards` makes the shards `--config demo --data shards` asks for."""
    return yaml.safe_load((Path(__file__).parents[1] / "configs" / "demo.yaml").read_text()).get("data") or {}


def register_enhance(data_sub: argparse._SubParsersAction) -> None:
    enhance = data_sub.add_parser(
        "enhance",
        help="Ray Data job: brightness centring + crop around the person -> Parquet shards + shards.json",
        description=(
            "Joins the Ray cluster named by RAY_ADDRESS (or starts a local one) and writes OUT/source/*.parquet, "
            "OUT/target/*.parquet and OUT/shards.json (schema: data_pipeline/schema.py). Bad inputs are "
            "skipped and listed in the manifest. Occlusion, rotation and flip are left to the training loader. "
            "The defaults are the shipped demo config's (search/configs/demo.yaml): give the flags your config's "
            "data section sets otherwise (a search refuses shards made with other settings)."
        ),
    )
    _add_enhance_inputs(enhance)
    _add_enhance_settings(enhance, demo_enhance_defaults())
    enhance.add_argument("--num-tasks", type=int, default=None, help="cap on concurrent enhancing tasks")
    enhance.add_argument(
        "--clips-per-task",
        type=int,
        default=8,
        help="SURREAL clips per Ray task (bigger amortises Ray's per-task cost, smaller spreads wider)",
    )
    enhance.add_argument("--images-per-task", type=int, default=128, help="target images per Ray task")
    enhance.add_argument("--overwrite", action="store_true", help="replace an existing output")
    enhance.set_defaults(func=run_enhance)


def _add_enhance_inputs(enhance: argparse.ArgumentParser) -> None:
    """`data enhance`'s --source, --target and --out."""
    enhance.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="surreal:DIR",
        help="SURREAL root holding cmu/ (repeatable)",
    )
    enhance.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="KIND:PATH",
        help=(
            "lsp:DIR, lsp-extended:DIR, coco:ANNOTATIONS.json:IMAGE_DIR[:SPLITS.json] or "
            "mpii:ANNOTATIONS.json:IMAGE_DIR[:HEAD_BOXES.mat], or folder:IMAGE_DIR (unlabelled photos) (repeatable)"
        ),
    )
    enhance.add_argument(
        "--out", required=True, help="output directory, s3://bucket/prefix or gs://bucket/prefix"
    )


def _add_enhance_settings(enhance: argparse.ArgumentParser, demo: dict) -> None:
    """The flags of the enhancement settings, defaulting to the demo config's `data` section (`demo`)."""
    size = demo.get("size", 256)
    enhance.add_argument("--size", type=int, default=size, help=f"side of the square crops in pixels ({size})")
    enhance.add_argument(
        "--margin", type=float, default=demo.get("margin", 0.15),
        help="crop side = person's longer side x (1 + 2 margin)",
    )  # fmt: skip
    enhance.add_argument(
        "--frames-per-clip", type=int, default=demo.get("frames_per_clip"), help="frames drawn per clip (default all)"
    )
    enhance.add_argument(
        "--frame-step", type=int, default=demo.get("frame_step"), help="take every k-th frame of each clip"
    )
    brightness = demo.get("brightness", "mean")
    enhance.add_argument(
        "--brightness",
        choices=("none", "mean", "reinhard"),
        default=brightness,
        help=f"brightness step on source samples (default {brightness}, as the demo config): mean = the study's "
        "centring (eq. 1-2), reinhard = per-channel Lab colour transfer from the background (Reinhard et al. 2001)",
    )
    enhance.add_argument("--no-brightness", action="store_true", help="same as --brightness none")
    enhance.add_argument("--image-format", choices=("jpeg", "png"), default=demo.get("image_format", "jpeg"))
    enhance.add_argument("--jpeg-quality", type=int, default=demo.get("jpeg_quality", 95))
    enhance.add_argument(
        "--seed", type=int, default=demo.get("seed", 0), help="frame choice and COCO/MPII split seed"
    )


def run_enhance(args: argparse.Namespace) -> int:
    """Enhance the inputs into Parquet shards (`posetune data enhance`); Ray is imported only here."""
    from search.jobs.enhance import enhance

    enhance(args)
    return 0
