"""The one skip policy every tree reader shares: a bad file is named, counted and stepped over."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from data_pipeline.errors import DataError
from data_pipeline.readers.sample import Sample

log = logging.getLogger(__name__)
Ref = TypeVar("Ref")


def read_each(
    refs: Iterable[Ref], read_one: Callable[[Ref], list[Sample]], what: str, skipped: list | None = None
) -> Iterator[Sample]:
    """Samples of every unit in `refs`, in order. A unit whose file is missing or corrupt (DataError) is
    skipped with a warning and, when `skipped` (a list) is given, recorded in it as (path, reason), so one
    bad file never loses the rest of a dataset."""
    for ref in refs:
        try:
            samples = read_one(ref)
        except DataError as error:
            log.warning("skipping %s %s", what, error)
            if skipped is not None:
                skipped.append((error.path, error.problem))
            continue
        yield from samples
