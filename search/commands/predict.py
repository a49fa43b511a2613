"""`posetune predict MODEL IMAGE… --out DIR`: run an exported model and draw the skeletons."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    predict = subparsers.add_parser(
        "predict",
        help="run an exported model on images and draw skeletons",
        description=(
            "Each image should show one person filling most of the frame (a person crop): it is padded to "
            "a square and resized to the network's input. Writes <name>.png with the skeleton and a "
            "predictions.json with joints in image pixels."
        ),
    )
    predict.add_argument("model", help="model file from `posetune search export`")
    predict.add_argument("images", nargs="+", help="image files (JPEG/PNG)")
    predict.add_argument("--out", required=True, help="output folder")
    predict.add_argument(
        "--min-confidence", type=float, default=0.0, help="hide joints below this peak value"
    )
    predict.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the network runs (auto: the GPU when torch sees one; bf16 there if training used it)",
    )
    predict.set_defaults(func=_predict)


def overlay_paths(images: list[Path], out: Path) -> list[Path]:
    """`<stem>.png` in `out` for each input; inputs sharing a stem get `<stem>-2.png`, `<stem>-3.png`..."""
    seen: dict[str, int] = {}
    paths = []
    for image in images:
        seen[image.stem] = seen.get(image.stem, 0) + 1
        suffix = "" if seen[image.stem] == 1 else f"-{seen[image.stem]}"
        paths.append(out / f"{image.stem}{suffix}.png")
    return paths


def check_outputs(images: list[Path], out: Path) -> None:
    """Refuse an --out that is a file, or the folder of an input (outputs never overwrite inputs)."""
    from data_pipeline.errors import DataError

    if out.exists() and not out.is_dir():
        raise DataError(out, "exists and is not a folder (--out names the folder for the overlays)")
    for image in images:
        if image.resolve().parent == out.resolve():
            raise DataError(
                out,
                f"is the folder of the input {image}: outputs never overwrite inputs, choose another --out",
            )


def _predict(args) -> int:
    from data_pipeline.images import read_image
    from data_pipeline.joints import LSP14
    from data_pipeline.preview import draw_skeleton, write_image
    from models.export import load_exported, predict_images
    from search.errors import ConfigError

    inputs = [Path(name) for name in args.images]
    out = Path(args.out)
    check_outputs(inputs, out)
    try:
        model, config, _ = load_exported(args.model, device=args.device)
    except ValueError as error:  # a --device this machine lacks
        raise ConfigError(str(error), key="--device") from None
    images = [read_image(path) for path in inputs]
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, path, image, (joints, confidence) in zip(
        args.images, overlay_paths(inputs, out), images, predict_images(model, config, images), strict=True
    ):
        visible = confidence >= args.min_confidence
        write_image(path, draw_skeleton(image, joints, visible))
        results[name] = {
            "overlay": str(path),
            "joints": {joint: [float(x), float(y)] for joint, (x, y) in zip(LSP14, joints, strict=True)},
            "confidence": {joint: float(c) for joint, c in zip(LSP14, confidence, strict=True)},
        }
        print(f"{name} -> {path}")
    (out / "predictions.json").write_text(json.dumps(results, indent=2))
    print(f"joints: {out / 'predictions.json'}")
    return 0
