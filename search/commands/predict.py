"""`posetune predict MODEL IMAGE… --out DIR`: run an exported model and draw the skeletons."""

from __future__ import annotations

import argparse
import json


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


def _predict(args) -> int:
    from pathlib import Path

    import cv2

    from data_pipeline.errors import DataError
    from data_pipeline.joints import LSP14
    from models.export import load_exported, predict_images
    from models.overlay import draw_skeleton, write_png
    from search.errors import ConfigError

    try:
        model, config, _ = load_exported(args.model, device=args.device)
    except (FileNotFoundError, ValueError) as error:
        raise ConfigError(str(error)) from None
    images = []
    for name in args.images:
        bgr = cv2.imread(name, cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(name, "not a readable image")
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, image, (joints, confidence) in zip(
        args.images, images, predict_images(model, config, images), strict=True
    ):
        visible = confidence >= args.min_confidence
        path = out / f"{Path(name).stem}.png"
        write_png(path, draw_skeleton(image, joints, visible))
        results[name] = {
            "overlay": str(path),
            "joints": {joint: [float(x), float(y)] for joint, (x, y) in zip(LSP14, joints, strict=True)},
            "confidence": {joint: float(c) for joint, c in zip(LSP14, confidence, strict=True)},
        }
        print(f"{name} -> {path}")
    (out / "predictions.json").write_text(json.dumps(results, indent=2))
    print(f"joints: {out / 'predictions.json'}")
    return 0
