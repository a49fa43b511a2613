"""Read an experiment's results back: a table of trials, the best one, and plots written next to it."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd

from data_pipeline import storage
from models import metric_names as names
from search.best import best_by, best_first
from search.config import ExperimentConfig
from search.errors import ConfigError
from search.experiment import STUDY_NAME, experiment_config, read_journal
from search.tune_results import NoTuneResults, read_trials

TABLE_METRICS = (
    *(names.TARGET_VAL + name for name in names.PDJ_FRACTIONS),
    names.TARGET_VAL + names.RMSE,
    names.TARGET_VAL + names.PCK05_TLLIB,
    names.SOURCE_VAL + names.PDJ20,
)
TABLE_TITLES = ("PDJ.05", "PDJ.2", "PDJ.4", "RMSE", "PCK.05 tllib")  # of TABLE_METRICS' first five


@dataclass
class TrialRow:
    trial_id: str
    status: str
    params: dict[str, Any]
    epochs: int
    best_epoch: int | None
    metrics: dict[str, float]  # at the best epoch by the search metric


@dataclass
class Inspection:
    experiment_uri: str
    metric: str
    mode: str
    rows: list[TrialRow]
    best: TrialRow | None
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
            "importances": self.importances,
            "plots": self.plots,
        }


def collect(uri: str) -> tuple[ExperimentConfig, list[TrialRow], dict[str, Any]]:
    """Every trial with its searched values and the metrics of its best epoch.

    Read from Tune's JSON files with `search.tune_results`, never through Tune's ExperimentAnalysis,
    which unpickles fields of the experiment folder (a crafted folder would run code here).
    """
    config = experiment_config(uri)
    metric, mode = config.search.metric, config.search.mode
    fs, path = storage.resolve(uri)
    try:
        trials = read_trials(fs, path)
    except NoTuneResults as error:
        raise ConfigError(f"no trial results yet ({error})", path=uri) from None
    rows, frames = [], {}
    for trial in trials:
        scored = [r for r in trial.results if _number(r.get(metric)) is not None]
        best = best_by(scored, lambda r: _number(r.get(metric)), mode)
        if best is None:
            rows.append(TrialRow(trial.trial_id, trial.status, trial.config, 0, None, {}))
            continue
        frames[trial.trial_id] = pd.DataFrame(trial.results)
        metrics = {k: float(best[k]) for k in (metric, *TABLE_METRICS) if _number(best.get(k)) is not None}
        rows.append(
            TrialRow(
                trial.trial_id,
                trial.status,
                trial.config,
                max(int(r.get("training_iteration", 0)) for r in trial.results),
                int(best.get("training_iteration", 0)),
                metrics,
            )
        )
    return config, rows, {"frames": frames, "trials": trials}


def _number(value) -> float | None:
    """`value` as a finite float, or None (missing, NaN, or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def best_row(rows: list[TrialRow], metric: str, mode: str) -> TrialRow | None:
    return best_by(rows, lambda r: r.metrics.get(metric), mode)


def param_importances(uri: str) -> dict[str, float]:
    """Optuna's fANOVA importances of the searched keys (needs a few finished trials), from the journal
    stored with the experiment (so they show on any machine, not only the one that ran the search)."""
    journal = read_journal(uri)
    if journal is None:
        return {}
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=journal)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if len(complete) < 2 or not study.best_trial.params:
            return {}
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (KeyError, ValueError, RuntimeError, OSError):
        return {}


def inspect(uri: str, *, plots: bool = True) -> Inspection:
    """Collect the trials, pick the best, and (optionally) draw the plots next to the experiment."""
    config, rows, extra = collect(uri)
    metric, mode = config.search.metric, config.search.mode
    result = Inspection(uri, metric, mode, rows, best_row(rows, metric, mode), param_importances(uri))
    if plots:
        result.plots = write_plots(uri, config, rows, extra["frames"], result.importances)
    return result


def write_plots(uri, config: ExperimentConfig, rows, frames, importances) -> list[str]:
    """Learning curves, the metric against each searched key, and parameter importances (PNG)."""
    # Imported here: the Agg backend (no display) must be chosen before pyplot is first imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = config.search.metric
    fs, path = storage.resolve(uri)
    written = []

    def save(fig, name):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        with fs.open_output_stream(f"{path}/{name}") as stream:
            stream.write(buffer.getvalue())
        written.append(f"{uri}/{name}")

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
    save(fig, "learning_curves.png")

    keys = list(config.search.space)
    if keys:
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.5), squeeze=False)
        for ax, key in zip(axes[0], keys, strict=True):
            xs = [r.params.get(key) for r in rows if metric in r.metrics]
            ys = [r.metrics[metric] for r in rows if metric in r.metrics]
            if xs and isinstance(xs[0], str):
                labels = sorted(set(xs))
                xs = [labels.index(x) for x in xs]
                ax.set_xticks(range(len(labels)), labels)
            ax.scatter(xs, ys)
            if config.search.space[key].type == "loguniform":
                ax.set_xscale("log")
            ax.set_xlabel(key)
            ax.set_ylabel(f"best {metric}")
            ax.grid(alpha=0.3)
        fig.suptitle("Best target metric of each trial against each searched key")
        save(fig, "metric_vs_params.png")

    if importances:
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(importances)))
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names])
        ax.set_xlabel("importance (Optuna fANOVA)")
        save(fig, "param_importances.png")
    return written


def format_table(result: Inspection) -> str:
    """The trials as a fixed-width text table, best first by the search metric."""
    keys = sorted({k for r in result.rows for k in r.params})
    header = ["trial", "status", *keys, "epochs", "best_ep", *TABLE_TITLES]
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
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.append("metrics: target validation split at each trial's best epoch by " + result.metric)
    if result.best is not None:
        out.append(
            f"best trial: {result.best.trial_id} ({result.metric} = {result.best.metrics[result.metric]:.4f})"
        )
    if result.importances:
        out.append("importances: " + ", ".join(f"{k} {v:.2f}" for k, v in result.importances.items()))
    if result.plots:
        out.append("plots: " + ", ".join(result.plots))
    return "\n".join(out)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
