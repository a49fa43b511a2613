"""The Parquet shards' layout and schema, and how their image bytes are encoded.

Layout of an enhancement output `OUT` (a local directory or an s3:// / gs:// prefix)::

    OUT/shards.json            counts per domain/split, settings, versions, skipped inputs (written last)
    OUT/source/*.parquet       synthetic people (SURREAL), after the brightness step settings.brightness names
    OUT/target/*.parquet       real-looking photos (LSP, COCO, ...)

One directory per domain (not hive partitioning) so every file holds every column and plain
`pyarrow.dataset.dataset(OUT + "/source")` reads it; the split is a column, filtered at read time.

Columns are plain Arrow types (no Ray tensor extension type), so pyarrow alone reads them.
Each row is one person, already cropped to a `size` x `size` square around them:

- `image`: the crop, JPEG at quality 95 by default (PNG with `image_format="png"`). JPEG because on the
  demo's 256 px crops it is about 5x smaller than PNG (10-14 KB vs 52-64 KB) and 5-7x faster to
  decode (0.4-0.6 ms vs 3-5 ms), which the per-trial loader pays for every sample; SURREAL frames are
  H.264 video and LSP/COCO are JPEG already, so q95 adds little the source did not have. The chosen encoding is in the schema metadata and the
  manifest; `decode_image` reads either.
- `mask`: the person's pixels in the crop, PNG 8-bit (0 / 255), lossless; null where the format has
  no mask (targets). The loader's occlusion needs it.
- `joints`: 14 x (x, y) float32, LSP-14 order, in crop pixels (pixel centres at integers).
- `labelled`: 14 bools, a position exists (occluded or not); joints outside the crop are not labelled.
- `visible`: 14 bools, labelled and not occluded (each reader says what its format calls occluded).
- `head_size`: the PCKh normaliser in crop pixels (MPII: 0.6 x head-box diagonal); null elsewhere.
- `crop_matrix`: the (2, 3) affine from the original image's pixels to the crop's, row-major, so
  predictions can be mapped back to the original photo.
- `brightness_centred`: whether a brightness step changed this sample (source samples with a mask); which
  one (`mean` or `reinhard`) is the manifest's `settings.brightness`.
"""

from __future__ import annotations

import cv2
import numpy as np
import pyarrow as pa

from data_pipeline.errors import DataError

# Version 2 (labelled + visible + head_size) replaced version 1 (one `visible` mask that meant "labelled
# and not occluded" on targets but "in frame" on SURREAL). The loader refuses any other version.
SCHEMA_VERSION = "2"
NUM_JOINTS = 14

SHARD_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),  # "source" | "target"
        pa.field("split", pa.string(), nullable=False),  # SURREAL train/val/test; targets adapt/val/test
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("image", pa.binary(), nullable=False),
        pa.field("mask", pa.binary(), nullable=True),
        pa.field("joints", pa.list_(pa.float32(), 2 * NUM_JOINTS), nullable=False),
        pa.field("labelled", pa.list_(pa.bool_(), NUM_JOINTS), nullable=False),
        pa.field("visible", pa.list_(pa.bool_(), NUM_JOINTS), nullable=False),
        pa.field("head_size", pa.float32(), nullable=True),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("crop_matrix", pa.list_(pa.float32(), 6), nullable=False),
        pa.field("brightness_centred", pa.bool_(), nullable=False),
    ],
    metadata={"posetune.schema_version": SCHEMA_VERSION},
)


def check_schema_version(manifest: dict, where: str) -> None:
    """DataError unless the shards' manifest records this SCHEMA_VERSION (older shards lack the labelled
    mask: their one `visible` column cannot be read with today's meaning)."""
    found = str(manifest.get("schema_version", "1"))
    if found != SCHEMA_VERSION:
        raise DataError(
            where,
            f"shards have schema version {found}, this posetune reads version {SCHEMA_VERSION} "
            "(labelled and visible joint masks); re-run `posetune data enhance` on the original datasets "
            "(a search re-makes its own shards once the old ones are removed)",
        )


def encode_image(image: np.ndarray, image_format: str = "jpeg", quality: int = 95) -> bytes:
    """RGB uint8 -> JPEG (at `quality`) or PNG bytes."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if image_format == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif image_format == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        raise ValueError(f"image_format must be 'jpeg' or 'png', not {image_format!r}")
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as {image_format}")
    return buf.tobytes()


def decode_image(data: bytes, where: str = "<shard>") -> np.ndarray:
    """JPEG/PNG bytes -> RGB uint8 (H, W, 3)."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(where, "image bytes are not a decodable JPEG/PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encode_mask(mask: np.ndarray) -> bytes:
    """bool (H, W) -> 8-bit PNG (0 / 255)."""
    ok, buf = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {mask.shape} mask")
    return buf.tobytes()


def decode_mask(data: bytes | None, where: str = "<shard>") -> np.ndarray | None:
    """PNG bytes -> bool (H, W); None stays None."""
    if data is None:
        return None
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise DataError(where, "mask bytes are not a decodable PNG")
    return gray > 127
