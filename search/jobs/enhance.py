"""`posetune data enhance` from its flags: the enhancement settings they ask for, the Ray Data job run on the
cluster named by RAY_ADDRESS (or a local Ray started and stopped here), and what it wrote, printed."""

from __future__ import annotations

import argparse
import os

import ray
from pydantic import ValidationError

from data_pipeline.pipeline import EnhanceJob, EnhanceSettings, parse_input, run_enhancement
from search.credentials import private_ray_temp_dir
from search.errors import ConfigError, from_validation


def enhance_settings(args: argparse.Namespace) -> EnhanceSettings:
    """The EnhanceSettings `data enhance`'s flags ask for (pydantic's ValidationError for a bad one)."""
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


def enhance(args: argparse.Namespace) -> dict:
    """Run the enhancement `data enhance`'s flags (`args`) ask for; print and return its manifest. Bad flags
    are a ConfigError naming the flag, before Ray starts."""
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

    if not os.environ.get("RAY_ADDRESS"):  # a local Ray started here logs privately
        os.environ.setdefault("RAY_TMPDIR", private_ray_temp_dir())
    started_here = not ray.is_initialized()
    try:
        manifest = run_enhancement(sources, targets, args.out, settings, job=job, overwrite=args.overwrite)
    finally:
        if started_here:
            ray.shutdown()
    print_manifest(args.out, manifest)
    return manifest


def print_manifest(out: str, manifest: dict) -> None:
    """What an enhancement wrote: the samples per domain and split, each input's tally, the skipped files."""
    print(f"wrote {out}")
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
