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
    predict.add_argument("--out", required=True, help="output folder (new, empty, or one predict wrote)")
    predict.add_argument(
        "--overwrite", action="store_true", help="replace an --out folder that predict wrote before"
    )
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


PREDICTIONS = "predictions.json"


def overlay_paths(images: list[Path], out: Path) -> list[Path]:
    """`<stem>.png` in `out` for each input; a name already handed out (to an earlier input, or one of the
    folder's own files) gets `-2`, `-3`... until it is free: x/a.jpg, y/a.png, z/a-2.jpg -> a, a-2, a-2-2."""
    from data_pipeline.outputs import MARKER

    taken = {PREDICTIONS, MARKER}
    paths = []
    for image in images:
        name, n = f"{image.stem}.png", 1
        while name in taken:
            n += 1
            name = f"{image.stem}-{n}.png"
        taken.add(name)
        paths.append(out / name)
    return paths


def _predict(args) -> int:
    from data_pipeline.images import read_image
    from data_pipeline.joints import LSP14
    from data_pipeline.outputs import check_output, has_marker, mark, replacing_folder
    from data_pipeline.preview import draw_skeleton, write_image
    from models.export import load_exported, predict_images
    from search.errors import ConfigError

    inputs = [Path(name) for name in args.images]
    out = Path(args.out)
    # Before the model loads: --out is a folder (empty, new, or one predict wrote), holding no input.
    check_output(out, folder=True, inputs=[*inputs, args.model], overwrite=args.overwrite, owned=has_marker)
    try:
        model, config, _ = load_exported(args.model, device=args.device)
    except ValueError as error:  # a --device this machine lacks
        raise ConfigError(str(error), key="--device") from None
    images = [read_image(path) for path in inputs]
    results = {}
    with replacing_folder(out) as staging:  # the new folder in place before an old one is deleted
        mark(staging, "predict")
        for name, path, image, (joints, confidence) in zip(
            args.images, overlay_paths(inputs, out), images, predict_images(model, config, images), strict=True
        ):
            visible = confidence >= args.min_confidence
            write_image(staging / path.name, draw_skeleton(image, joints, visible))
            results[name] = {
                "overlay": str(path),
                "joints": {joint: [float(x), float(y)] for joint, (x, y) in zip(LSP14, joints, strict=True)},
                "confidence": {joint: float(c) for joint, c in zip(LSP14, confidence, strict=True)},
            }
        (staging / PREDICTIONS).write_text(json.dumps(results, indent=2))
    for name, record in results.items():
        print(f"{name} -> {record['overlay']}")
    print(f"joints: {out / PREDICTIONS}")
    return 0
