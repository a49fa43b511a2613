"""Loading MATLAB v5 files as the real datasets lay them out, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io

from data_pipeline.errors import DataError


def load_mat(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict:
    """scipy.io.loadmat without squeeze_me (it would collapse T = 1 clips); DataError when the file is
    missing, unreadable, or lacks a `required` variable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file is missing")
    try:
        data = scipy.io.loadmat(path)
    except Exception as error:  # scipy raises ValueError, TypeError, OSError... on truncated or foreign files
        raise DataError(path, f"not a readable MATLAB file ({type(error).__name__}: {error})") from error
    missing = [name for name in required if name not in data]
    if missing:
        raise DataError(path, f"missing variable(s) {', '.join(missing)}")
    return data


def mat_array(data: dict, name: str, path: str | os.PathLike, ndim: int, dtype=np.float64) -> np.ndarray:
    """A numeric variable as `dtype`, whatever type it was saved with. MATLAB drops trailing singleton
    dimensions when it re-saves a file (a (2,24,1) array comes back (2,24)), so missing trailing axes are
    restored up to `ndim`."""
    try:
        value = np.asarray(data[name]).astype(dtype)
    except (TypeError, ValueError) as error:
        raise DataError(path, f"variable {name} is not numeric ({error})") from error
    while value.ndim < ndim:
        value = value[..., None]
    if value.ndim != ndim:
        raise DataError(path, f"variable {name} has shape {value.shape}, expected {ndim} dimensions")
    return value
