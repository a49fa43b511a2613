"""Read an experiment's results back: a table of trials, the best one, and plots written next to it.

Trials stopped by ASHA trained fewer epochs than the ones it promoted, so their best values mostly measure
"trained longer". Importances and the metric-vs-parameter plots therefore compare trials at equal budget:
at each of ASHA's rungs (and the last epoch), every trial that reached that epoch, with the value it
reported there.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd

from data_pipeline import storage
from data_pipeline.outputs import check_output
from models import metric_names as names
from search.config import ExperimentConfig
from search.errors import ConfigError
from search.experiment import Experiment
from search.results.best import best_by, best_first
from search.results.tune_files import NoTuneResults, read_trials
from search.space import optuna_space

TABLE_METRICS = (
    *(names.TARGET_VAL + name for name in names.PDJ_FRACTIONS),
    names.TARGET_VAL + names.RMSE,
    names.TARGET_VAL + names.PCK05_TLLIB,
    names.SOURCE_VAL + names.PDJ20,
)
TABLE_TITLES = ("PDJ.05", "PDJ.2", "PDJ.4", "RMSE", "PCK.05 tllib")  # of TABLE_METRICS' first five
# The label-free scores beside them (models.label_free; none reads a target label), with their titles.
LABEL_FREE_TABLE = {
    names.SOURCE_VAL + names.PDJ20: "src PDJ.2",
    names.DEV: "DEV",
    names.TARGET_VAL + names.FLIP_AGREE: "flip",
    names.TARGET_VAL + names.JITTER_AGREE: "jitter",
    names.TARGET_VAL + names.PEAK_CONF: "peak",
    names.TARGET_VAL + names.ENTROPY: "entropy",
    names.DOMAIN_PROBE_ACC: "probe acc",
}
MIN_COMPARED = 4  # importances compare at the last rung at least this many trials reached (else 2)


@dataclass
class TrialRow:
    trial_id: str
    status: str
    params: dict[str, Any]
    epochs: int  # epochs trained (reported)
    best_epoch: int | None
    metrics: dict[str, float]  # at the best epoch by the search metric
    at_rungs: dict[int, float] = field(default_factory=dict)  # search metric at each compared epoch reached


@dataclass
class Inspection:
    experiment_uri: str
    metric: str
    mode: str
    rows: list[TrialRow]
    best: TrialRow | None
    compared_epochs: list[int] = field(default_factory=list)  # ASHA's rungs and the last epoch
    importance_epoch: int | None = None  # the equal budget the importances compare trials at
    importances: dict[str, float] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def row(r: TrialRow | None):
            return None if r is None else r.__dict__

        return {
            "experiment_uri": self.experiment_uri,
            "metric": self.metric,
            "mode": self.mode,
            "trials": [row(r) for r in self.rows],
            "best": row(self.best),
            "compared_epochs": self.compared_epochs,
            "importance_epoch": self.importance_epoch,
            "importances": self.importances,
            "plots": self.plots,
        }


def collect(experiment: Experiment | str) -> tuple[ExperimentConfig, list[TrialRow], dict[str, Any]]:
    """Every trial with its searched values and the metrics of its best epoch.

    Read from Tune's JSON files with `search.results.tune_files`, never through Tune's ExperimentAnalysis,
    which unpickles fields of the experiment folder (a crafted folder would run code here).
    """
    experiment = Experiment.of(experiment)
    config = experiment.config()
    metric, mode = config.search.metric, config.search.mode
    try:
        trials = read_trials(experiment.filesystem, experiment.path)
    except NoTuneResults as error:
        raise ConfigError(f"no trial results yet ({error})", path=experiment.uri) from None
    compared = compared_epochs(config)
    rows, frames = [], {}
    for trial in trials:
        scored = [r for r in trial.results if _number(r.get(metric)) is not None]
        best = best_by(scored, lambda r: _number(r.get(metric)), mode)
        if best is None:
            rows.append(TrialRow(trial.trial_id, trial.status, trial.config, 0, None, {}))
            continue
        frames[trial.trial_id] = pd.DataFrame(trial.results)
        shown = (metric, *TABLE_METRICS, *LABEL_FREE_TABLE)
        metrics = {k: float(best[k]) for k in shown if _number(best.get(k)) is not None}
        rows.append(
            TrialRow(
                trial.trial_id,
                trial.status,
                trial.config,
                max(int(r.get("training_iteration", 0)) for r in trial.results),
                int(best.get("training_iteration", 0)),
                metrics,
                _at_epochs(scored, metric, compared),
            )
        )
    return config, rows, {"frames": frames, "trials": trials}


def compared_epochs(config: ExperimentConfig) -> list[int]:
    """The epochs at which trials are compared at equal budget: ASHA's rungs, placed as Ray's
    AsyncHyperBandScheduler places them (grace x factor^k, k = 0 .. int(log(max_t / grace) / log(factor))),
    and the last epoch; without ASHA, the last epoch only."""
    max_t = config.max_t
    if config.scheduler.type != "asha":
        return [max_t]
    grace, factor = config.scheduler.grace_period, config.scheduler.reduction_factor
    rungs = int(math.log(max_t / grace) / math.log(factor) + 1) if max_t >= grace else 0
    return sorted({int(grace * factor**k) for k in range(rungs)} | {max_t})


def _at_epochs(results: list[dict[str, Any]], metric: str, epochs: list[int]) -> dict[int, float]:
    """The metric each compared epoch reported (the last report of that epoch, if a retry repeated it)."""
    by_epoch = {int(r.get("training_iteration", 0)): float(r[metric]) for r in results}
    return {epoch: by_epoch[epoch] for epoch in epochs if epoch in by_epoch}


def importance_epoch(rows: list[TrialRow], epochs: list[int]) -> int | None:
    """The equal budget importances compare at: the last compared epoch that at least MIN_COMPARED trials
    reached (else 2 trials); None when no epoch was reached by two."""
    for need in (MIN_COMPARED, 2):
        reached = [e for e in epochs if sum(e in r.at_rungs for r in rows) >= need]
        if reached:
            return max(reached)
    return None


def _number(value) -> float | None:
    """`value` as a finite float, or None (missing, NaN, or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def best_row(rows: list[TrialRow], metric: str, mode: str) -> TrialRow | None:
    return best_by(rows, lambda r: r.metrics.get(metric), mode)


def param_importances(config: ExperimentConfig, rows: list[TrialRow], epoch: int | None) -> dict[str, float]:
    """Optuna's importances of the searched keys (its default evaluator, PED-ANOVA) over the trials that reached `epoch`, each
    with the value it reported at `epoch` (not its best, which mixes budgets; not Optuna's own record,
    which holds each trial's last value). Empty when fewer than two trials compare."""
    if epoch is None or not config.search.space:
        return {}
    distributions = optuna_space(config)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if config.search.mode == "max" else "minimize")
    for row in rows:
        if epoch in row.at_rungs and all(key in row.params for key in distributions):
            params = {key: row.params[key] for key in distributions}
            try:
                trial = optuna.trial.create_trial(
                    params=params, distributions=distributions, value=row.at_rungs[epoch]
                )
            except ValueError:  # a value outside the (since changed) space
                continue
            study.add_trial(trial)
    if len(study.trials) < 2:
        return {}
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError):
        return {}


def inspect(uri: str, *, plots: bool = True) -> Inspection:
    """Collect the trials, pick the best, and (optionally) draw the plots next to the experiment."""
    experiment = Experiment(uri)
    if plots:  # the output rule, before the trials are read: each plot replaces only a PNG, never a folder
        experiment.read_manifest()  # a folder that is no experiment is refused as such first
        for name in PLOTS:
            check_output(storage.join(uri, name), folder=False, overwrite=True, owned=_is_png, flag="")
    config, rows, extra = collect(experiment)
    metric, mode = config.search.metric, config.search.mode
    epochs = compared_epochs(config)
    epoch = importance_epoch(rows, epochs)
    result = Inspection(
        uri,
        metric,
        mode,
        rows,
        best_row(rows, metric, mode),
        epochs,
        epoch,
        param_importances(config, rows, epoch),
    )
    if plots:
        result.plots = write_plots(experiment, config, result, extra["frames"])
    return result


PLOTS = ("learning_curves.png", "metric_vs_params.png", "param_importances.png")  # beside the experiment


def _is_png(fs, path: str) -> bool:
    """Whether the file at `path` is a PNG (a plot an earlier `inspect` drew: it is drawn again)."""
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def write_plots(experiment: Experiment, config: ExperimentConfig, result: Inspection, frames) -> list[str]:
    """Learning curves, the metric against each searched key at each compared epoch, and parameter
    importances at equal budget (PNG), beside the experiment."""
    # Imported here: the Agg backend (no display) must be chosen before pyplot is first imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        with experiment.filesystem.open_output_stream(f"{experiment.path}/{name}") as stream:
            stream.write(buffer.getvalue())
        written.append(f"{experiment.uri}/{name}")

    save(_learning_curves(plt, config.search.metric, result.rows, frames), PLOTS[0])
    scatter = _metric_vs_params(plt, config, result)
    if scatter is not None:
        save(scatter, PLOTS[1])
    if result.importances:
        save(_importance_bars(plt, result), PLOTS[2])
    return written


# Each plot below is drawn with `plt`, matplotlib.pyplot as write_plots imported it (under Agg).


def _learning_curves(plt, metric: str, rows: list[TrialRow], frames):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        frame = frames.get(row.trial_id)
        if frame is not None and metric in frame:
            ax.plot(frame["training_iteration"], frame[metric], marker="o", ms=3, label=row.trial_id[-5:])
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title("Learning curves (target validation)")
    ax.grid(alpha=0.3)
    if len(rows) <= 12:
        ax.legend(fontsize=7, ncol=2)
    return fig


def _metric_vs_params(plt, config: ExperimentConfig, result: Inspection):
    """One row of scatter plots per compared epoch some trial reached, one column per searched key; None
    when nothing is searched or no trial reached a compared epoch."""
    metric, rows, keys = config.search.metric, result.rows, list(config.search.space)
    epochs = [e for e in result.compared_epochs if sum(e in r.at_rungs for r in rows) >= 1]
    if not (keys and epochs):
        return None
    fig, axes = plt.subplots(
        len(epochs), len(keys), figsize=(4 * len(keys), 3 * len(epochs)), squeeze=False, sharey="row"
    )
    for row_axes, epoch in zip(axes, epochs, strict=True):
        compared = [r for r in rows if epoch in r.at_rungs]
        for ax, key in zip(row_axes, keys, strict=True):
            xs = [r.params.get(key) for r in compared]
            ys = [r.at_rungs[epoch] for r in compared]
            if xs and isinstance(xs[0], str):
                labels = sorted(set(xs))
                xs = [labels.index(x) for x in xs]
                ax.set_xticks(range(len(labels)), labels)
            ax.scatter(xs, ys)
            if config.search.space[key].type == "loguniform":
                ax.set_xscale("log")
            ax.set_xlabel(key)
            ax.set_title(f"epoch {epoch}: {len(compared)} trials", fontsize=9)
            ax.grid(alpha=0.3)
        row_axes[0].set_ylabel(f"{metric} at epoch {epoch}")
    fig.suptitle(
        "The metric against each searched key at equal budget (each row: the trials that reached it)"
    )
    fig.tight_layout()
    return fig


def _importance_bars(plt, result: Inspection):
    importances = result.importances
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(importances)))
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] for n in names])
    compared = sum(result.importance_epoch in r.at_rungs for r in result.rows)
    ax.set_xlabel(f"importance (Optuna PED-ANOVA) at epoch {result.importance_epoch}, {compared} trials")
    return fig


def format_table(result: Inspection) -> str:
    """The trials as a fixed-width text table, best first by the search metric."""
    keys = sorted({k for r in result.rows for k in r.params})
    epoch = result.importance_epoch
    at_epoch = [f"@ep{epoch}"] if epoch is not None else []
    header = ["trial", "status", *keys, "epochs", "best_ep", *TABLE_TITLES, *LABEL_FREE_TABLE.values(), *at_epoch]
    rows = best_first(result.rows, lambda r: r.metrics.get(result.metric), result.mode)
    lines = []
    for r in rows:
        m = r.metrics
        lines.append(
            [
                r.trial_id[-8:],
                r.status,
                *[_fmt(r.params.get(k)) for k in keys],
                str(r.epochs),
                str(r.best_epoch or "-"),
                *[_fmt(m.get(k)) for k in TABLE_METRICS[: len(TABLE_TITLES)]],
                *[_fmt(m.get(k)) for k in LABEL_FREE_TABLE],
                *([_fmt(r.at_rungs.get(epoch))] if at_epoch else []),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.append(
        "epochs: epochs each trial trained (ASHA stops trials at its rungs, "
        + ", ".join(map(str, result.compared_epochs))
        + "); metrics: target validation split at each trial's best epoch by "
        + result.metric
        + " ('-' where the target has no labels), then the label-free scores that read no target label: "
        + "source-val PDJ@0.2, DEV (lower better), flip/jitter agreement, peak, entropy (lower better), "
        + "domain probe accuracy (lower: domains less separable)"
        + (
            f"; @ep{epoch}: {result.metric} at epoch {epoch}, the equal budget importances compare at"
            if at_epoch
            else ""
        )
    )
    if result.best is not None:
        out.append(
            f"best trial: {result.best.trial_id} ({result.metric} = {result.best.metrics[result.metric]:.4f})"
        )
    if result.importances:
        compared = sum(epoch in r.at_rungs for r in result.rows)
        out.append(
            f"importances at epoch {epoch} ({compared} trials that reached it): "
            + ", ".join(f"{k} {v:.2f}" for k, v in result.importances.items())
        )
    if result.plots:
        out.append("plots: " + ", ".join(result.plots))
    return "\n".join(out)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
