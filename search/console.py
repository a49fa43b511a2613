"""What a search prints for a person (`tracking.console: epochs`): one line per trial start, trial-epoch and
trial end, from the driver. Ray Tune's own status tables and the workers' output (Ray's checkpoint chatter
among it) then stay in Ray's log files: `RunConfig(verbose=0)` and `ray.init(log_to_driver=False)`."""

from __future__ import annotations

import math
import time

from ray import tune

from models import metric_names as names


def _pdj(metrics: dict, prefix: str) -> str:
    value = metrics.get(prefix + names.PDJ20)
    return "  -  " if value is None or not math.isfinite(value) else f"{value:.3f}"


def epoch_line(who: str, metrics: dict, epochs: int, metric: str | None = None) -> str:
    """`who epoch e/E: source-val PDJ@0.2 … target-val PDJ@0.2 … [the search metric …] loss … (s)` for one
    reported epoch (the search metric shown when it is neither PDJ@0.2: a label-free score, say)."""
    shown = {names.SOURCE_VAL + names.PDJ20, names.TARGET_VAL + names.PDJ20, None}
    value = metrics.get(metric) if metric not in shown else None
    selected = f"{metric} {value:.4g}  " if isinstance(value, float) and math.isfinite(value) else ""
    return (
        f"{who} epoch {int(metrics['epoch'])}/{epochs}: "
        f"source-val PDJ@0.2 {_pdj(metrics, names.SOURCE_VAL)}  "
        f"target-val PDJ@0.2 {_pdj(metrics, names.TARGET_VAL)}  {selected}"
        f"loss {metrics.get('train_loss', float('nan')):.4g}  ({metrics.get('epoch_time_s', float('nan')):.1f} s)"
    )


def _params(config: dict, searched: list[str]) -> str:
    shown = []
    for key in searched:
        value = config.get(key)
        shown.append(
            f"{key.rsplit('.', 1)[-1]}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
        )
    return ", ".join(shown)


class ConsoleProgress(tune.Callback):
    """Prints, on the driver, each trial's start (its searched values), every epoch's validation PDJ@0.2,
    and how it ended (finished, stopped early by the scheduler, errored)."""

    def __init__(self, searched: list[str], epochs: int, metric: str):
        self.searched, self.epochs, self.metric = list(searched), epochs, metric
        self._started = time.monotonic()

    def _who(self, trial) -> str:
        return f"[{time.monotonic() - self._started:5.0f} s] trial {trial.trial_id}"

    def on_trial_start(self, iteration, trials, trial, **info):
        print(f"{self._who(trial)} started: {_params(trial.config, self.searched)}", flush=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        print(epoch_line(self._who(trial), result, self.epochs, self.metric), flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        epoch = int(last.get("epoch", 0))
        how = "finished" if epoch >= self.epochs else f"stopped early by the scheduler after {epoch} epochs"
        print(
            f"{self._who(trial)} {how}: {self.metric} {last.get(self.metric, float('nan')):.3f}", flush=True
        )

    def on_trial_error(self, iteration, trials, trial, **info):
        print(f"{self._who(trial)} errored (its error.txt says why; retried if failure.max_failures allows)")


def progress_callbacks(console: str, searched: list[str], epochs: int, metric: str) -> list[tune.Callback]:
    """posetune's per-trial console for `tracking.console: epochs`; none when Tune's own tables are asked for."""
    return [ConsoleProgress(searched, epochs, metric)] if console == "epochs" else []
