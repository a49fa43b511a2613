"""Loading a JSON annotation file with errors that name the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from data_pipeline.errors import DataError


def load_json(path: str | os.PathLike, what: str = "file"):
    """The parsed JSON of `path`; DataError when it is missing or not readable JSON."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} is missing")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"not readable JSON ({error})") from error
