"""The Sobol recorder's pure parts (bench.tables, what `python -m bench.search_table` records with): unit coordinates map onto each key's range in its
own scale, the draw is the seeded scrambled Sobol sequence, and the recording order repeats the first
configurations with a second seed early."""

from __future__ import annotations

import math

import pytest
from scipy.stats import qmc

from bench import tables
from search.config import ParamSpec


@pytest.fixture(scope="module")
def table():
    return tables


def test_from_unit_maps_each_type_in_its_own_scale_and_inverts_unit(table):
    log = ParamSpec(type="loguniform", low=1e-4, high=1e-2)
    assert table.from_unit(log, 0.0) == pytest.approx(1e-4)
    assert table.from_unit(log, 0.5) == pytest.approx(1e-3, rel=1e-5)  # the geometric middle, not 5e-3
    lin = ParamSpec(type="uniform", low=0.3, high=1.0)
    assert table.from_unit(lin, 0.5) == pytest.approx(0.65)
    for spec in (log, lin):
        for u in (0.1, 0.37, 0.9):
            assert table.unit(spec, table.from_unit(spec, u)) == pytest.approx(u, abs=1e-5)
    choice = ParamSpec(type="choice", values=["a", "b", "c"])
    assert [table.from_unit(choice, u) for u in (0.0, 0.34, 0.99, 1.0)] == ["a", "b", "c", "c"]
    ints = ParamSpec(type="int", low=1, high=4)
    assert [table.from_unit(ints, u) for u in (0.0, 0.26, 0.5, 0.999)] == [1, 2, 3, 4]


def test_sobol_configs_are_the_seeded_scrambled_sequence(table):
    space = {
        "train.lr": ParamSpec(type="loguniform", low=1e-4, high=3e-3),
        "augment.occlusion_prob": ParamSpec(type="uniform", low=0.0, high=0.8),
    }
    configs = table.sobol_configs(space, 8, seed=0)
    expected = qmc.Sobol(2, scramble=True, seed=0).random(8)
    for config, row in zip(configs, expected, strict=True):
        assert config["unit"] == pytest.approx(row.tolist(), abs=1e-6)
        lr = math.exp(math.log(1e-4) + row[0] * (math.log(3e-3) - math.log(1e-4)))
        assert config["params"]["train.lr"] == pytest.approx(lr, rel=1e-5)
        assert config["params"]["augment.occlusion_prob"] == pytest.approx(0.8 * row[1], abs=1e-6)
    assert table.sobol_configs(space, 8, seed=0) == configs  # reproducible


def test_sobol_order_records_every_run_once_with_repeats_early(table):
    order = table.sobol_order(100, 20, seeds=(0, 1))
    assert len(order) == 120 and len(set(order)) == 120
    assert {i for i, s in order if s == 1} == set(range(20))
    assert order.index((0, 1)) == 5  # after configurations 0-4 with the first seed
    assert sum(s == 1 for _, s in order[:60]) >= 9  # half-way, a fifth of the recorded runs are repeats
    assert table.sobol_order(3, 5) == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
