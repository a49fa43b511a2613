"""The one error type for bad inputs: it always names the file and what is wrong with it."""

from __future__ import annotations

import os


class DataError(Exception):
    """A missing, unreadable or malformed input file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
