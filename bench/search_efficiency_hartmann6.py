"""A check of the search machinery on a published function: the multi-fidelity Hartmann-6.

`python -m bench.search_efficiency` replays the product's search (its TruthfulOptunaSearch with the configured
Optuna sampler, its ASHA scheduler) over recorded learning curves. This drives the same direct engine
(`search_efficiency.drive_directly`: the searcher and scheduler `search.tuner` builds, called as Tune's
controller calls them) over BoTorch's `AugmentedHartmann` (botorch.test_functions.multi_fidelity; Hartmann-6
with a 7th, fidelity coordinate s that lowers the first term's weight by 0.1 (1 - s); minimum -3.32237 at
s = 1), the multi-fidelity benchmark of the HPO literature. If TPE+ASHA did not clearly beat random search
here, where the structure is known and the low fidelities rank points much as the full one does, the
wiring would be wrong.

Method. The searched space is six keys of the demo config (`HARTMANN_SPACE`); each key's range, in its own
scale (log for loguniform), maps onto one Hartmann coordinate in [0, 1]. A trial with suggestion x reports
at epoch e of max_t the negated function -H(x, s = e / max_t) (the search maximises it), so ASHA's rungs
see lower-fidelity values and a trial that reaches max_t reports the true -H(x). Trials run
`search.max_concurrent` (1 or 4) at a time, every epoch one unit of time. The demo config's scheduler
settings (grace period, reduction factor) and sampler settings are the product's; `--epochs` sets max_t.
Budgets, target and statistics are bench.search_efficiency's: a search ends at `--budget-factor` x random
search's reference budget (`--reference-trials` full trials at one trial at a time) in trial-epochs; the
target is random search's median best at its reference budget; per strategy the trial-epochs to reach
it (median, bootstrap 95 % CI over seeds, ratio of medians to random search's with its CI) and the
best-so-far curves (median, quartile band).

    python -m bench.search_efficiency_hartmann6 [--seeds 50] [--out bench/results]
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from botorch.test_functions.multi_fidelity import AugmentedHartmann

from bench.common import chosen_strategies, command, plot_strategy_curves, print_strategies, replay_parser
from bench.search_efficiency import drive_directly, search_record, summarize
from search.config import load_config
from search.experiment import experiment_uri, write_experiment_manifest
from search.space import make_sampler as product_sampler

HARTMANN_OPTIMUM = 3.32237  # -min H (BoTorch's _optimal_value), what the negated function reaches at best
# Six searched keys of the demo config, one per Hartmann coordinate (their values only label the point).
HARTMANN_SPACE = {
    "train.lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
    "train.adv_weight": {"type": "loguniform", "low": 1e-4, "high": 0.5},
    "augment.occlusion_prob": {"type": "uniform", "low": 0.0, "high": 0.8},
    "train.lr_decay_rate": {"type": "uniform", "low": 0.3, "high": 1.0},
    "augment.rotation_deg": {"type": "uniform", "low": 0.0, "high": 40.0},
    "augment.flip_prob": {"type": "uniform", "low": 0.0, "high": 1.0},
}
SAMPLERS = ("random", "tpe", "cmaes")
STRATEGIES = {  # name -> (sampler, scheduler type, concurrent trials)
    f"{sampler}{'+asha' if asha else ''}{'' if c == 1 else f'/c{c}'}": (sampler, "asha" if asha else "none", c)
    for c in (1, 4)
    for sampler in SAMPLERS
    for asha in ((False, True) if sampler != "cmaes" else (False,))
}


def hartmann6():
    """BoTorch's multi-fidelity Hartmann-6 (7 inputs, the last the fidelity), in double precision."""
    return AugmentedHartmann(dtype=torch.double)


def coordinates(params: dict, space: dict) -> list[float]:
    """A suggestion as Hartmann coordinates: each key's value placed in its range, in the key's own scale."""
    out = []
    for key, spec in space.items():
        low, high, value = spec["low"], spec["high"], params[key]
        if spec["type"] == "loguniform":
            low, high, value = math.log(low), math.log(high), math.log(value)
        out.append(min(1.0, max(0.0, (value - low) / (high - low))))
    return out


def hartmann_curve(function, space: dict, max_t: int):
    """A trial's curve: -H(x, e / max_t) at epochs e = 1 .. max_t (one batched call per trial)."""
    fidelities = torch.arange(1, max_t + 1, dtype=torch.double) / max_t

    def curve_of(params: dict) -> list[float]:
        x = torch.tensor(coordinates(params, space), dtype=torch.double).expand(max_t, -1)
        values = -function.evaluate_true(torch.cat([x, fidelities[:, None]], dim=1))
        return values.tolist()

    return curve_of


def make_sampler(name: str, config):
    """The product's sampler for random and TPE (search.space.make_sampler); Optuna's CmaEsSampler for
    cmaes, seeded alike with the same random start-up as the product's TPE. (GPSampler took 40 s per
    search here, 40x TPE: too slow for 50 seeds on a shared 2-core machine.)"""
    if name == "cmaes":
        startup = max(2, min(10, config.search.num_samples // 3))
        return optuna.samplers.CmaEsSampler(seed=config.search.seed, n_startup_trials=startup)
    return product_sampler(config.with_params({"search.algorithm": name}))


def base_config(storage: str, epochs: int):
    """The demo config searching `HARTMANN_SPACE` for `epochs` epochs a trial, its searches under `storage`."""
    overrides = [
        "tracking.wandb=none",
        f"storage.path={storage}",
        f"train.epochs={epochs}",
        f"scheduler.max_t={epochs}",
        f"search.space={json.dumps(HARTMANN_SPACE)}",
    ]
    return load_config("demo", overrides)


def run(name: str, seed: int, base, function, budget: int, stamp: str, ray_searcher: bool = False) -> dict:
    """One search of strategy `name` with search seed `seed`, driven directly: its record."""
    sampler_name, scheduler, concurrent = STRATEGIES[name]
    per_trial = base.scheduler.grace_period if scheduler == "asha" else base.max_t
    config = base.with_params(
        {"search.algorithm": "tpe" if sampler_name == "cmaes" else sampler_name, "scheduler.type": scheduler,
         "search.seed": seed, "search.num_samples": math.ceil(budget / per_trial) + concurrent,
         "search.max_concurrent": concurrent}
    )  # fmt: skip
    slug = name.replace("+", "-").replace("/", "-")
    uri = experiment_uri(base.storage.path, f"hartmann6-{stamp}-{slug}-s{seed}")
    write_experiment_manifest(uri, uri.rsplit("/", 1)[-1], config)
    start = time.perf_counter()
    curve_of = hartmann_curve(function, HARTMANN_SPACE, base.max_t)
    rows = drive_directly(
        config, uri, curve_of, budget, sampler=make_sampler(sampler_name, config), ray_searcher=ray_searcher
    )
    return {"seed": seed, **search_record(rows, budget, config.search.mode, start)}


def plot(summary: dict, path: Path) -> None:
    """The strategies' simple-regret curves (`bench.common.plot_strategy_curves`)."""
    plot_strategy_curves(
        summary,
        {name: concurrent for name, (_, _, concurrent) in STRATEGIES.items()},
        path,
        ylabel=f"simple regret of the best so far ({HARTMANN_OPTIMUM} - best -H)",
        title="Multi-fidelity Hartmann-6 through the product's searcher and ASHA",
        regret_from=HARTMANN_OPTIMUM,
    )


def write(runs: dict, args, base, *, budget: int, reference: int, start: float, argv, plots: bool) -> dict:
    summary = summarize(runs, budget=budget, reference=reference, mode=base.search.mode)
    result = {
        "method": __doc__.split("Method.")[1].split("\n\n")[0].replace("\n", " ").strip(),
        "function": "botorch.test_functions.multi_fidelity.AugmentedHartmann, negated (maximised)",
        "optimum": HARTMANN_OPTIMUM,
        "space": HARTMANN_SPACE,
        "epochs_per_trial": base.max_t,
        "metric": "-H(x, s = epoch / max_t)",
        "mode": base.search.mode,
        "scheduler": {
            "grace_period": base.scheduler.grace_period,
            "reduction_factor": base.scheduler.reduction_factor,
            "max_t": base.max_t,
        },
        "strategy_settings": {
            name: {"sampler": s, "scheduler": sch, "max_concurrent": c} for name, (s, sch, c) in STRATEGIES.items()
        },
        "evaluate_defaults_first": base.search.evaluate_defaults_first,
        "engine": "direct",
        "searcher": "ray.tune.search.optuna.OptunaSearch" if args.ray_searcher else "search.searcher.TruthfulOptunaSearch",
        "wall_s": round(time.perf_counter() - start, 1),
        "searches": sum(len(rs) for rs in runs.values()),
        "trials": sum(r["trials"] for rs in runs.values() for r in rs),
        "load_average": list(os.getloadavg()),
        "command": "nice -n 10 " + command("bench.search_efficiency_hartmann6", argv),
        **summary,
    }
    out = Path(args.out)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    if plots:
        plot(summary, out / f"{args.name}.png")
    return result


def main(argv=None) -> int:
    parser = replay_parser(
        __doc__,
        STRATEGIES,
        reference_trials=20,
        storage="/dev/shm/posetune-bench-hartmann6",
        storage_help="where the searches (and their Optuna journals) live; tmpfs: the journal fsyncs every write",
        name="search_efficiency_hartmann6",
    )
    parser.add_argument("--epochs", type=int, default=8, help="max_t: a full trial's epochs (default 8)")
    parser.add_argument(
        "--ray-searcher", action="store_true",
        help="Ray's own OptunaSearch (stopped trials told COMPLETE at their rung) instead of the product's",
    )  # fmt: skip
    args = parser.parse_args(argv)
    strategies = chosen_strategies(parser, args, STRATEGIES)
    base = base_config(args.storage, args.epochs)
    function = hartmann6()
    reference = args.reference_trials * base.max_t
    budget = int(round(args.budget_factor * reference))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[dict]] = {name: [] for name in strategies}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for seed in range(args.seeds):  # seed-major: every strategy has the same seeds at any moment
        for name in strategies:
            runs[name].append(run(name, seed, base, function, budget, stamp, args.ray_searcher))
        print(f"seed {seed}: {sum(map(len, runs.values()))} searches in {time.perf_counter() - start:.0f} s", flush=True)
        if seed < args.seeds - 1:
            write(runs, args, base, budget=budget, reference=reference, start=start, argv=argv, plots=False)
    result = write(runs, args, base, budget=budget, reference=reference, start=start, argv=argv, plots=True)
    print_strategies(result, reference, wall_s=lambda name: np.mean([r["wall_s"] for r in runs[name]]))
    print(f"{result['searches']} searches in {result['wall_s']:.0f} s -> {Path(args.out) / args.name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
