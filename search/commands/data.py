"""`posetune data …`: make the demo data, look at it, and enhance datasets into Parquet shards."""

from __future__ import annotations

import argparse
import itertools
import json
import os
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
    from data_pipeline.demo import write_demo
    from data_pipeline.errors import DataError
    from data_pipeline.outputs import check_output, replacing_file

    out = Path(args.out)
    if args.clips < 1:
        raise DataError(out, f"--clips must be at least 1, got {args.clips}")
    shift = parse_shift(args.shift, args.only)
    summary_file = out / DEMO_SUMMARY  # write_demo checks surreal/ and lsp/ the same way
    check_output(summary_file, folder=False, overwrite=args.overwrite, owned=_is_demo_summary)
    summary = write_demo(
        out, clips=args.clips, seed=args.seed, progress=True, overwrite=args.overwrite, shift=shift
    )
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
    return 0


DEMO_SUMMARY = "demo_summary.json"


def _is_demo_summary(fs, path: str) -> bool:
    """Whether `data demo` wrote the summary at `path` (it says so; older ones have its roots' keys)."""
    from data_pipeline.outputs import written_by_posetune

    if written_by_posetune(fs, path):
        return True
    try:
        with fs.open_input_stream(path) as stream:
            old = json.loads(stream.read(1 << 20))
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and {"surreal_root", "lsp_root", "shift"} <= set(old)


def parse_shift(settings: list[str], only: str | None = None):
    """A DomainShift from `--only FACTOR` and `--shift FACTOR=STRENGTH` flags; a bad one is a ConfigError."""
    import dataclasses

    from pydantic import ValidationError

    from data_pipeline.shift import SHIFT_FACTORS, DomainShift
    from search.errors import ConfigError, from_validation

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


def run_show(args: argparse.Namespace) -> int:
    from data_pipeline.errors import DataError
    from data_pipeline.outputs import check_kind
    from data_pipeline.preview import sample_grid, write_image
    from data_pipeline.readers import read_lsp, read_surreal

    root = Path(args.dir)
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg") or out.is_dir():
        raise DataError(out, "--out names the image file to write: a .png or .jpg path")
    check_kind(out, folder=False)  # beside the data or inside its folder: it replaces none of it
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
    grid = sample_grid(source + target, columns=min(6, max(1, len(source) + len(target))), cell=256)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, grid)
    print(f"wrote {out}: {len(source)} source and {len(target)} target samples")
    for path, reason in skipped:
        print(f"skipped {path}: {reason}")
    return 0


# --- `posetune data enhance` ----------------------------------------------------------------------


def demo_enhance_defaults() -> dict:
    """`data enhance`'s defaults: the enhancement settings of the shipped demo config's `data` section (where
    it sets them), so `data enhance ... --out shards` makes the shards `--config demo --data shards` asks for."""
    import yaml

    return yaml.safe_load((Path(__file__).parents[1] / "configs" / "demo.yaml").read_text()).get("data") or {}


def register_enhance(data_sub: argparse._SubParsersAction) -> None:
    demo = demo_enhance_defaults()
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


def enhance_settings(args: argparse.Namespace):
    """The EnhanceSettings `data enhance`'s flags ask for (pydantic's ValidationError for a bad one)."""
    from data_pipeline.pipeline import EnhanceSettings

    return EnhanceSettings(
        size=args.size,
        margin=args.margin,
        brightness="none" if args.no_brightness else args.brightness,
        image_format=args.image_format,
        jpeg_quality=args.jpeg_quality,
        frames_per_clip=args.frames_per_clip,
        frame_step=args.frame_step,
        seed=args.seed,
    )


def run_enhance(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that `posetune --help` does not load Ray.
    import ray
    from pydantic import ValidationError

    from data_pipeline.pipeline import EnhanceJob, parse_input, run_enhancement
    from search.errors import ConfigError, from_validation

    if not args.source and not args.target:
        raise ConfigError("give at least one --source or --target")
    try:
        sources = [parse_input(s, "source") for s in args.source]
        targets = [parse_input(t, "target") for t in args.target]
    except ValueError as error:
        raise ConfigError(str(error)) from None
    try:
        settings = enhance_settings(args)
        job = EnhanceJob(
            num_tasks=args.num_tasks, clips_per_task=args.clips_per_task, images_per_task=args.images_per_task
        )
    except ValidationError as error:
        raise from_validation(error, spell=lambda key: "--" + key.replace("_", "-")) from None

    from search.credentials import private_ray_temp_dir

    if not os.environ.get("RAY_ADDRESS"):  # a local Ray started here logs privately
        os.environ.setdefault("RAY_TMPDIR", private_ray_temp_dir())
    started_here = not ray.is_initialized()
    try:
        manifest = run_enhancement(sources, targets, args.out, settings, job=job, overwrite=args.overwrite)
    finally:
        if started_here:
            ray.shutdown()
    print(f"wrote {args.out}")
    for domain, counts in manifest["counts"].items():
        if counts:
            print(f"  {domain:6s} " + ", ".join(f"{split} {n}" for split, n in counts.items()))
    for spec, summary in manifest["inputs"].items():
        print(
            f"  {spec}: {summary['ok']}/{summary['total']} {summary['units']} ok, {summary['skipped']} skipped"
            + (f", {summary['unassigned']} in no split (not written)" if summary.get("unassigned") else "")
        )
    for item in manifest["skipped"]:
        print(f"  skipped {item['path']}: {item['reason']}")
    return 0
