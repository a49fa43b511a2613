"""What the bench scripts share: the repository's paths, the command line a result records, the arguments
and strategy list of the search replays (`bench.search_efficiency_hartmann6`, `bench.search_surrogate`),
and their plot of each strategy's best-so-far curve."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def command(module: str, argv: list[str] | None) -> str:
    """The command line that reproduces a result: `python -m bench.NAME ARGS` (`module` is `__spec__.name`
    or a script's `bench.NAME`); `argv` None: this process's own arguments."""
    return " ".join(["python -m", module, *(argv if argv is not None else sys.argv[1:])])


def replay_parser(
    doc: str, strategies: dict, *, reference_trials: int, storage: str, storage_help: str, name: str
) -> argparse.ArgumentParser:
    """The arguments every search replay takes: seeds, the reference and total budgets, the strategies
    (a subset of `strategies` that includes random: `chosen_strategies`), where searches live, the outputs."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=50, help="search seeds per strategy (default 50)")
    parser.add_argument(
        "--reference-trials",
        type=int,
        default=reference_trials,
        help=f"random search's budget in full trials (default {reference_trials})",
    )
    parser.add_argument("--budget-factor", type=float, default=2.0, help="every search's budget / the reference")
    parser.add_argument("--strategies", default=",".join(strategies), help="comma-separated subset")
    parser.add_argument("--storage", default=storage, help=storage_help)
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--name", default=name, help="output file stem")
    return parser


def chosen_strategies(parser: argparse.ArgumentParser, args: argparse.Namespace, strategies: dict) -> list[str]:
    """`--strategies` as a list; a usage error unless it is a subset of `strategies` including random."""
    chosen = [s for s in args.strategies.split(",") if s]
    if "random" not in chosen or any(s not in strategies for s in chosen):
        parser.error(f"--strategies: a subset of {', '.join(strategies)} that includes random")
    return chosen


def print_strategies(result: dict, reference: int, wall_s: Callable[[str], float] | None = None) -> None:
    """One line per strategy: trial-epochs to random's best, the ratio to random, how many seeds reached it."""
    for name, s in result["strategies"].items():
        med, (low, high) = s["trial_epochs_to_target"]["median"], s["trial_epochs_to_target"]["ci95"]
        ratio = s["ratio_to_random"]
        wall = f"  wall {wall_s(name):.2f} s/search" if wall_s is not None else ""
        print(f"{name:16s} trial-epochs to random's best at {reference}: {med:g} [{low:g}, {high:g}]  "
              f"ratio {ratio['median']:.2f} [{ratio['ci95'][0]:.2f}, {ratio['ci95'][1]:.2f}]  "
              f"reached {s['reached_within_budget']}/{s['seeds']}{wall}")  # fmt: skip


def plot_strategy_curves(
    summary: dict,
    concurrency: dict[str, int],
    path: Path,
    *,
    ylabel: str,
    title: str,
    regret_from: float | None = None,
) -> None:
    """Each strategy's best-so-far curve over the trial-epochs spent (median, quartile band), one panel for
    the strategies running 1 trial at a time and one for 4 (`concurrency`: strategy -> trials at once).
    `regret_from`: plot `regret_from - best` on a log scale (the simple regret of a known optimum)."""
    from matplotlib.figure import Figure  # here: the scripts that only read bench.common's paths stay light

    def shown(values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return values if regret_from is None else regret_from - values

    x = np.arange(1, summary["budget_trial_epochs"] + 1)
    fig = Figure(figsize=(12, 4.8))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, concurrent in zip(axes, (1, 4), strict=True):
        for name, s in summary["strategies"].items():
            if concurrency[name] != concurrent:
                continue
            c = s["curve"]
            med, (low, high) = s["trial_epochs_to_target"]["median"], s["trial_epochs_to_target"]["ci95"]
            r = s["ratio_to_random"]
            label = (
                f"{name}: {med:g} [{low:g}, {high:g}], x{r['median']:.2f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
                if math.isfinite(med)
                else f"{name}: not reached"
            )
            (line,) = ax.plot(x, shown(c["median"]), drawstyle="steps-post", label=label)
            ax.fill_between(x, shown(c["p25"]), shown(c["p75"]), step="post", alpha=0.15, color=line.get_color())
        ax.axhline(float(shown(summary["target"])), color="grey", ls=":", lw=1)
        ax.axvline(summary["reference_trial_epochs"], color="grey", ls="--", lw=1)
        if regret_from is not None:
            ax.set_yscale("log")
        ax.set_xlabel("trial-epochs spent")
        ax.set_title(f"{concurrent} trial{'s' if concurrent > 1 else ''} at a time", fontsize=10)
        ax.legend(title="trial-epochs to target, median [95 % CI], x random [CI]", fontsize=7, title_fontsize=7)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(ylabel)
    seeds = next(iter(summary["strategies"].values()))["seeds"]
    fig.suptitle(
        f"{title}: median, band = quartiles over {seeds} seeds\n"
        "dashed: random's reference budget; dotted: its median best there (the target)",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
