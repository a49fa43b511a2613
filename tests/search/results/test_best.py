"""Best by metric and mode: one rule for the outcome, the table, the export and the study's best arm."""

import math

from search.results.best import best_by, best_first

ROWS = [("a", 0.2), ("b", None), ("c", 0.5), ("d", math.nan), ("e", 0.5), ("f", 0.1)]


def score(row):
    return row[1]


def test_best_by_mode_skips_missing_and_nan_and_keeps_the_first_of_equals():
    assert best_by(ROWS, score, "max") == ("c", 0.5)
    assert best_by(ROWS, score, "min") == ("f", 0.1)
    assert best_by([("x", None), ("y", math.nan)], score, "max") is None


def test_best_first_puts_unscored_rows_last_in_their_order():
    assert [name for name, _ in best_first(ROWS, score, "max")] == ["c", "e", "a", "f", "b", "d"]
    assert [name for name, _ in best_first(ROWS, score, "min")] == ["f", "a", "c", "e", "b", "d"]
