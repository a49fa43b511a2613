"""The surrogate of the Sobol table (bench.search_surrogate): the flattened forest predicts exactly what
scikit-learn's does, the held-out accuracy is measured on unseen configurations, the seed noise is the
pooled std between two seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")  # the `bench` extra

from tests.bench.scripts import load_bench_script


@pytest.fixture(scope="module")
def surrogate():
    return load_bench_script("search_surrogate")


def toy_table(n=30, epochs=4, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n):
        u = rng.uniform(0, 1, 2).tolist()
        for s in (0, 1) if i < 6 else (0,):
            curve = [0.3 - 0.2 * (u[0] - 0.5) ** 2 + 0.01 * e + rng.normal(0, noise) for e in range(epochs)]
            runs.append({"index": i, "seed": s, "unit": u, "epochs": epochs, "curves": {"m": curve}})
    return {"runs": runs, "epochs": epochs}


def test_flat_forest_predicts_as_sklearn(surrogate):
    X, y, _ = surrogate.design(toy_table(noise=0.01), "m")
    forest = surrogate.make_forest().fit(X, y)
    queries = np.random.default_rng(1).uniform(0, 1, (50, 3))
    queries[:, -1] = np.arange(50) % 4 + 1
    assert np.array_equal(surrogate.FlatForest(forest).predict(queries), forest.predict(queries))


def test_design_rows_are_unit_coordinates_and_epoch(surrogate):
    X, y, groups = surrogate.design(toy_table(n=3, epochs=2), "m")
    assert X.shape == (2 * (3 + 3), 3) and list(X[:2, -1]) == [1, 2]
    assert list(groups[:4]) == [0, 0, 0, 0]


def test_held_out_accuracy_on_a_smooth_function_and_seed_noise(surrogate):
    table = toy_table(n=60, noise=0.0)
    acc = surrogate.cv_accuracy(*surrogate.design(table, "m"))
    assert acc["r2"] > 0.8 and acc["spearman"] > 0.8 and acc["checkpoints"] == (60 + 6) * 4
    assert surrogate.seed_noise(table, "m")["std_all_epochs"] == pytest.approx(0.0)
    noisy = toy_table(n=60, noise=0.02, seed=3)
    noise = surrogate.seed_noise(noisy, "m")
    assert noise["configurations"] == 6
    assert 0.01 < noise["std_all_epochs"] < 0.035  # two seeds each N(0, 0.02): std of one run ~ 0.02
    assert not math.isnan(noise["std_last_epoch"])
