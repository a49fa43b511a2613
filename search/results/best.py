"""Best by metric and mode, written once: which of several scored things wins, and their order."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

T = TypeVar("T")
Mode = Literal["max", "min"]


def _score(value: float | None, mode: Mode) -> float | None:
    """`value` signed so that bigger is better; None for a missing or NaN value."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(value):
        return None
    return value if mode == "max" else -value


def best_by(items: Iterable[T], value: Callable[[T], float | None], mode: Mode) -> T | None:
    """The item whose `value` is highest (mode "max") or lowest ("min"); items without a value are
    ignored, the first of equals wins; None when no item has a value."""
    best, best_score = None, None
    for item in items:
        score = _score(value(item), mode)
        if score is not None and (best_score is None or score > best_score):
            best, best_score = item, score
    return best


def best_first(items: Iterable[T], value: Callable[[T], float | None], mode: Mode) -> list[T]:
    """`items` from best to worst by `value`; items without a value last, in their given order."""
    items = list(items)
    scored = [(score, i) for i, item in enumerate(items) if (score := _score(value(item), mode)) is not None]
    missing = [item for item in items if _score(value(item), mode) is None]
    return [items[i] for _, i in sorted(scored, key=lambda pair: (-pair[0], pair[1]))] + missing
