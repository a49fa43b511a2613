"""`posetune predict MODEL IMAGE… --out DIR`: run an exported model and draw the skeletons."""

from __future__ import annotations

import argparse


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


def _predict(args) -> int:
    from search.jobs.predict import predict_files

    predict_files(
        args.model,
        args.images,
        args.out,
        overwrite=args.overwrite,
        min_confidence=args.min_confidence,
        device=args.device,
    )
    return 0
