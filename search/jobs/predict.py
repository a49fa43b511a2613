"""`posetune predict`: an exported model run on image files, into a folder of skeleton overlays
(<name>.png) and predictions.json (each image's joints in its pixels, with their confidences)."""

from __future__ import annotations

import json
from pathlib import Path

from data_pipeline.images import read_image
from data_pipeline.joints import LSP14
from data_pipeline.outputs import MARKER, check_output, has_marker, mark, replacing_folder
from data_pipeline.preview import draw_skeleton, write_image
from models.export import load_exported, predict_images
from search.errors import ConfigError

PREDICTIONS = "predictions.json"


def overlay_paths(images: list[Path], out: Path) -> list[Path]:
    """`<stem>.png` in `out` for each input; a name already handed out (to an earlier input, or one of the
    folder's own files) gets `-2`, `-3`... until it is free: x/a.jpg, y/a.png, z/a-2.jpg -> a, a-2, a-2-2."""
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


def predict_files(
    model_file: str, images: list[str], out: str, *, overwrite: bool, min_confidence: float, device: str
) -> dict:
    """Run the exported model in `model_file` on each image file and write the folder `out` (new, empty, or
    one predict wrote: `overwrite` replaces that); print each overlay's path and return the predictions."""
    inputs = [Path(name) for name in images]
    out_dir = Path(out)
    # Before the model loads: --out is a folder (empty, new, or one predict wrote), holding no input.
    check_output(out_dir, folder=True, inputs=[*inputs, model_file], overwrite=overwrite, owned=has_marker)
    try:
        model, config, _ = load_exported(model_file, device=device)
    except ValueError as error:  # a --device this machine lacks
        raise ConfigError(str(error), key="--device") from None
    pixels = [read_image(path) for path in inputs]
    results = {}
    with replacing_folder(out_dir) as staging:  # the new folder in place before an old one is deleted
        mark(staging, "predict")
        for name, path, image, (joints, confidence) in zip(
            images, overlay_paths(inputs, out_dir), pixels, predict_images(model, config, pixels), strict=True
        ):
            visible = confidence >= min_confidence
            write_image(staging / path.name, draw_skeleton(image, joints, visible))
            results[name] = {
                "overlay": str(path),
                "joints": {joint: [float(x), float(y)] for joint, (x, y) in zip(LSP14, joints, strict=True)},
                "confidence": {joint: float(c) for joint, c in zip(LSP14, confidence, strict=True)},
            }
        (staging / PREDICTIONS).write_text(json.dumps(results, indent=2))
    for name, record in results.items():
        print(f"{name} -> {record['overlay']}")
    print(f"joints: {out_dir / PREDICTIONS}")
    return results
