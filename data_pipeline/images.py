"""Reading an image file whole or not at all.

OpenCV decodes a truncated JPEG without an error (it warns "Premature end of JPEG file" on stderr and fills
the missing rows with grey), so a cut download would silently become a half-grey training or test image.
`read_image` refuses it: a JPEG must end with its end-of-image marker, or decode completely in Pillow
(which, unlike OpenCV, raises on missing data).
"""

from __future__ import annotations

import io
import os

import cv2
import numpy as np

from data_pipeline.errors import DataError

_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def is_complete(data: bytes) -> bool:
    """False for a JPEG or PNG whose encoded data stops before the image does."""
    if data.startswith(_JPEG_START):
        if data.rstrip(b"\x00\r\n ").endswith(_JPEG_END):
            return True
        return _decodes_fully(data)  # bytes after the end marker (some cameras append metadata)
    if data.startswith(_PNG_START):
        return _PNG_END in data[-64:] or _decodes_fully(data)
    return True


def _decodes_fully(data: bytes) -> bool:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
        return True
    except (OSError, SyntaxError, ValueError):
        return False


def decode_image(data: bytes, name: str | os.PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) from encoded bytes; DataError naming `name` when they are not a whole image."""
    if not data:
        raise DataError(name, "empty file, not an image")
    if not is_complete(data):
        raise DataError(name, "truncated image (the file ends before the image data does)")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(name, "image is missing or cannot be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) from an image file, refusing missing, truncated or undecodable files."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(path, "image is missing or cannot be decoded") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, not an image") from None
    except OSError as error:
        raise DataError(path, f"cannot be read ({error.strerror or error})") from None
    return decode_image(data, path)
