"""The study's statistics on constructed numbers whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search.study.stats import (
    HELPS,
    HURTS,
    NO_EFFECT,
    TOO_FEW,
    bootstrap_se,
    mean_std,
    paired_difference,
    t_interval,
    verdict,
)


def test_t_interval_matches_the_textbook_value():
    # mean 3, sample std 1.5811 (values 1..5), t(0.975, 4) = 2.7764: half-width 2.7764 * 1.5811 / sqrt(5)
    interval = t_interval([1, 2, 3, 4, 5])
    assert interval.mean == 3 and interval.n == 5
    assert interval.half_width == pytest.approx(2.7764451 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert interval.low == pytest.approx(3 - interval.half_width)


def test_a_consistent_gain_excludes_zero_even_when_the_arms_are_noisy():
    # classic varies by 10 points between seeds, the arm is 2 points above it on every seed (+-0.1):
    # unpaired the gain would drown in the seed noise; paired by seed it is clear.
    classic = {0: 0.10, 1: 0.30, 2: 0.20, 3: 0.05, 4: 0.25}
    arm = {s: v + 0.02 + 0.001 * (-1) ** s for s, v in classic.items()}
    diff = paired_difference(arm, classic)
    assert diff.n == 5 and diff.mean == pytest.approx(0.0202)
    assert 0 < diff.low < diff.mean < diff.high < 0.03
    assert verdict(diff) == HELPS
    assert verdict(paired_difference(classic, arm)) == HURTS
    assert verdict(diff, higher_is_better=False) == HURTS  # e.g. an RMSE that grew


def test_differences_of_both_signs_contain_zero():
    classic = {0: 0.2, 1: 0.2, 2: 0.2, 3: 0.2, 4: 0.2}
    arm = {0: 0.25, 1: 0.15, 2: 0.22, 3: 0.18, 4: 0.21}
    diff = paired_difference(arm, classic)
    assert diff.low < 0 < diff.high
    assert verdict(diff) == NO_EFFECT


def test_pairs_only_the_seeds_both_arms_have():
    diff = paired_difference({0: 1.0, 1: 2.0, 7: 100.0}, {0: 0.0, 1: 0.0, 2: 50.0})
    assert diff.n == 2 and diff.mean == pytest.approx(1.5)
    one = paired_difference({0: 1.0}, {0: 0.0, 1: 0.0})
    assert one.n == 1 and math.isnan(one.low)
    assert verdict(one) == TOO_FEW


def test_mean_std_is_the_sample_std():
    mean, std = mean_std([0.1, 0.3])
    assert mean == pytest.approx(0.2) and std == pytest.approx(math.sqrt(0.02))
    assert math.isnan(mean_std([0.4])[1]) and math.isnan(mean_std([])[0])


def test_bootstrap_se_of_a_mean_is_its_standard_error():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, 400)
    se = bootstrap_se(lambda idx: values[idx].mean(), len(values), np.random.default_rng(1), n_boot=500)
    assert se == pytest.approx(values.std() / math.sqrt(len(values)), rel=0.15)
    assert math.isnan(bootstrap_se(lambda idx: 0.0, 1, rng))
