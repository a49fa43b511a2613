"""The searched keys of a config as Optuna distributions, and the sampler that draws from them."""

from __future__ import annotations

from typing import Any

import optuna

from search.config import ExperimentConfig, ParamSpec


def to_distribution(spec: ParamSpec) -> optuna.distributions.BaseDistribution:
    """One ParamSpec as the Optuna distribution TPE and random sampling understand."""
    if spec.type == "uniform":
        return optuna.distributions.FloatDistribution(spec.low, spec.high)
    if spec.type == "loguniform":
        return optuna.distributions.FloatDistribution(spec.low, spec.high, log=True)
    if spec.type == "int":
        return optuna.distributions.IntDistribution(int(spec.low), int(spec.high))
    return optuna.distributions.CategoricalDistribution(list(spec.values))


def optuna_space(config: ExperimentConfig) -> dict[str, optuna.distributions.BaseDistribution]:
    return {key: to_distribution(spec) for key, spec in config.search.space.items()}


def default_point(config: ExperimentConfig) -> dict[str, Any]:
    """The config's own value of every searched key: the baseline the search must beat.

    Values outside a range are clipped into it, and a choice falls back to its first value, so the
    point is always a valid draw.
    """
    point = {}
    for key, spec in config.search.space.items():
        section, name = key.split(".", 1)
        value = getattr(getattr(config, section), name)
        if spec.type == "choice":
            point[key] = value if value in spec.values else spec.values[0]
        else:
            low, high = spec.low, spec.high
            value = min(max(value, low), high)
            point[key] = int(round(value)) if spec.type == "int" else float(value)
    return point


def make_sampler(config: ExperimentConfig) -> optuna.samplers.BaseSampler:
    """TPE (seeded; random start scaled to the budget) or seeded random search."""
    seed = config.search.seed
    if config.search.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Optuna's default of 10 random start-up trials would leave a small search all random.
    startup = max(2, min(10, config.search.num_samples // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
