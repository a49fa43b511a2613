"""The study's statistics: pure functions over per-seed numbers, so every table and verdict is reproducible.

Why a t-interval and not a bootstrap: the study has few seeds (5 by default). A percentile bootstrap over
5 values can only reach the range of those values and under-covers at this size (simulated on normal data,
its nominal 95 % interval for n = 5 covers the true mean about 83 % of the time). Student's t with n - 1
degrees of freedom is exact when the per-seed differences are normal and is the textbook interval for small
paired samples. It needs n >= 2.

Why paired by seed: every arm runs the same seeds on the same images. Seed s fixes the weight
initialisation (or, with a warm start, the shared checkpoint they all start from), the order of the
training batches and the augmentation stream, so arm and classic under seed s share those draws, and the
per-seed difference arm_s - classic_s removes what they share (a paired t-test on the differences).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
HELPS, HURTS, NO_EFFECT, TOO_FEW = "helps", "hurts", "no detectable effect", "too few seeds"


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval over `n` values (nan bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; nan for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else math.nan


def t_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """Student's t confidence interval of the mean of `values` (n - 1 degrees of freedom)."""
    values = np.asarray(values, dtype=np.float64)
    n = int(values.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(values.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, confidence)
    half = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, confidence)


def paired_difference(
    arm: Mapping[int, float], baseline: Mapping[int, float], confidence: float = CONFIDENCE
) -> Interval:
    """arm − baseline, paired by seed: the t-interval of the per-seed differences over the seeds both have."""
    seeds = sorted(set(arm) & set(baseline))
    return t_interval([arm[s] - baseline[s] for s in seeds], confidence)


def verdict(difference: Interval, higher_is_better: bool = True) -> str:
    """Helps or hurts when the interval excludes 0, "no detectable effect" when it contains 0."""
    if difference.n < 2 or not math.isfinite(difference.low):
        return TOO_FEW
    if not difference.excludes_zero():
        return NO_EFFECT
    return HELPS if (difference.low > 0) == higher_is_better else HURTS


def bootstrap_se(
    statistic: Callable[[np.ndarray], float], n_items: int, rng: np.random.Generator, n_boot: int = 200
) -> float:
    """Standard error of `statistic(indices)` over evaluation items resampled with replacement: how much one
    model's score would move on another test set of the same size (the eval-sampling noise)."""
    if n_items < 2:
        return math.nan
    draws = [statistic(rng.integers(0, n_items, n_items)) for _ in range(n_boot)]
    draws = np.asarray(draws, dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    return float(draws.std(ddof=1)) if draws.size > 1 else math.nan
