"""The learning-curve tables `python -m bench.search_table` records and the replays read (HPO's tabular
benchmarks): where a value sits in its searched key's range, the grid and Sobol points of a space, the
nearest recorded grid point, and reading a table (a JSON grid table, a JSONL Sobol table). Light: no Ray."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

from scipy.stats import qmc

from search.config import ParamSpec

DIGITS = 6  # significant digits of a recorded value or unit coordinate


def grid_values(spec: ParamSpec, n: int) -> list[Any]:
    """`n` values of a searched key: the centres of `n` equal parts of its range (in log space for a
    loguniform key), so that mapping any draw to its nearest value splits the range into equal cells;
    every value of a choice; distinct rounded centres of an int range."""
    if spec.type == "choice":
        return list(spec.values)
    centres = [(2 * i + 1) / (2 * n) for i in range(n)]
    if spec.type == "loguniform":
        low, high = math.log(spec.low), math.log(spec.high)
        return [_significant(math.exp(low + c * (high - low))) for c in centres]
    values = [spec.low + c * (spec.high - spec.low) for c in centres]
    if spec.type == "int":
        return sorted({int(round(v)) for v in values})
    return [_significant(v) for v in values]


def _significant(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def unit(spec: ParamSpec, value: Any) -> float:
    """Where `value` sits in its key's range, from 0 to 1 (log scale for loguniform): the distance the
    replay's nearest-grid mapping uses. Choices are not ordered: 0 for every value."""
    if spec.type == "choice":
        return 0.0
    if spec.type == "loguniform":
        return (math.log(value) - math.log(spec.low)) / (math.log(spec.high) - math.log(spec.low))
    return (float(value) - spec.low) / (spec.high - spec.low)


def from_unit(spec: ParamSpec, u: float) -> Any:
    """The value of a searched key at unit coordinate `u` in [0, 1): the inverse of `unit` (log scale for
    loguniform); an int range and a choice split [0, 1) into equal cells, one per value."""
    u = min(max(float(u), 0.0), math.nextafter(1.0, 0.0))
    if spec.type == "choice":
        return spec.values[int(u * len(spec.values))]
    if spec.type == "loguniform":
        low, high = math.log(spec.low), math.log(spec.high)
        return _significant(math.exp(low + u * (high - low)))
    if spec.type == "int":
        return int(spec.low + math.floor(u * (spec.high - spec.low + 1)))
    return _significant(spec.low + u * (spec.high - spec.low))


def sobol_units(dimensions: int, n: int, seed: int = 0) -> list[list[float]]:
    """The first `n` points of a scrambled Sobol sequence in [0, 1)^dimensions."""
    with warnings.catch_warnings():  # n need not be a power of 2: its balance is not what the table needs
        warnings.simplefilter("ignore", UserWarning)
        points = qmc.Sobol(dimensions, scramble=True, seed=seed).random(n)
    return [[round(float(x), DIGITS) for x in row] for row in points]


def sobol_configs(space: dict[str, ParamSpec], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` Sobol configurations of `space` (keys in the space's order): {"unit": [...], "params": {...}}."""
    keys = list(space)
    return [
        {"unit": row, "params": {k: from_unit(space[k], u) for k, u in zip(keys, row, strict=True)}}
        for row in sobol_units(len(keys), n, seed)
    ]


def sobol_order(n: int, repeats: int, seeds: tuple[int, int] = (0, 1)) -> list[tuple[int, int]]:
    """(configuration, seed) in recording order: every configuration with the first seed, the second
    seed of configuration j right after the first seed of configuration 5j+4 (while j < repeats), so that a
    recording stopped early still holds a fifth of its configurations twice."""
    order, pending = [], list(range(min(repeats, n)))
    for i in range(n):
        order.append((i, seeds[0]))
        if pending and (i % 5 == 4 or i == n - 1):
            order.append((pending.pop(0), seeds[1]))
    order += [(j, seeds[1]) for j in pending]
    return order


def nearest(table: dict, params: dict[str, Any]) -> dict[str, Any]:
    """The grid point of `table` nearest to `params`, key by key (a choice must match exactly)."""
    point = {}
    for key, values in table["grid"].items():
        spec = ParamSpec(**table["space"][key])
        if spec.type == "choice":
            if params[key] not in values:
                raise KeyError(f"{key}={params[key]!r} is not a recorded value ({values})")
            point[key] = params[key]
        else:
            at = unit(spec, params[key])
            point[key] = min(values, key=lambda v: abs(unit(spec, v) - at))
    return point


def grid_key(point: dict[str, Any]) -> str:
    """One string per grid point, the same for the recorder and the replay."""
    return json.dumps({k: point[k] for k in sorted(point)}, sort_keys=True)


def load_table(path: str | Path) -> dict:
    """A recorded table with an index from (grid point, seed) to its run."""
    table = json.loads(Path(path).read_text())
    table["index"] = {(grid_key(run["params"]), run["seed"]): run for run in table["runs"]}
    return table


def read_jsonl_table(path: str | Path) -> dict:
    """A Sobol table from its JSONL file: the header's fields and `runs` (the last record of each
    (configuration, seed) pair wins)."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if not lines or lines[0].get("kind") != "header":
        raise ValueError(f"{path}: not a Sobol table (no header line)")
    runs = {(r["index"], r["seed"]): r for r in lines[1:]}
    return {**lines[0], "runs": [runs[k] for k in sorted(runs)]}
