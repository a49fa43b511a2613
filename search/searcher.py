"""Ray Tune's OptunaSearch, made to tell Optuna what happened to each trial.

Ray Tune 2.60's `OptunaSearch` (ray/tune/search/optuna/optuna_search.py) reports a result to the Optuna
trial only when the scheduler lets the trial go on: the result on which ASHA stops a trial goes to
`on_trial_complete` instead, which `tell`s Optuna COMPLETE with that rung's value (PRUNED only when there
is no result at all). So Optuna's record mixes epoch-2 values with full-budget ones as if both were final,
and optuna-dashboard shows no pruned trial. `TruthfulOptunaSearch` tells it instead:

- every result, the one that stopped the trial included, as an intermediate value at its step
  (`training_iteration`, ASHA's time attribute), each step once;
- COMPLETE (with the value at the last step) only for a trial that reached `budget` steps, its full budget;
- PRUNED for a trial stopped before that (by ASHA, or by the search's own end: a budget stopper, Ctrl-C is
  not a stop), with every intermediate value: Optuna records its last one as the trial's value;
- a trial Tune restores that this searcher's saved state does not know (the driver died after Tune's
  snapshot recorded the trial and before the searcher's snapshot did): its Optuna trial, asked before the
  death and RUNNING in the journal with the trial's parameters, is adopted and told like any other;
- FAIL for an errored trial, and for one stopped before it reported anything (TPE then ignores it instead
  of ranking it as the worst trial). An errored trial that `search resume` continues (Tune's
  `resume_errored`) cannot be reopened in Optuna: when it ends, a second Optuna trial with its parameters
  and all its intermediate values is added, told as above (`resumed_from` names the failed one).

How the samplers use that (Optuna 5.1, read in the installed source):
- TPE (`samplers/_tpe/sampler.py`, `_split_trials`) fills its "good" group of gamma(n) trials (default
  min(ceil(0.1 n), 25)) with the best COMPLETE trials first; only when there are fewer COMPLETE trials than
  that does it take PRUNED ones, ranked by the deepest step reached first, then by the value there
  (`_get_pruned_trial_score`). Every other PRUNED trial is in the "bad" group: a pruned trial counts as
  evidence against its region, and a value at epoch 2 is never compared with one at the full budget as if
  both were final. RUNNING trials are in the "bad" group too (constant liar, on by default in Optuna 5).
- GPSampler fits its GP on COMPLETE trials only; CmaEsSampler ignores PRUNED trials unless
  `consider_pruned_trials=True`. RandomSampler ignores everything.

The study's pruner stays Ray's NopPruner: Tune's scheduler decides, Optuna records. The subclass adds only
plain attributes, so `OptunaSearch.save`/`restore` (a pickle of `__dict__`) and `Tuner.restore` (which
unpickles the searcher from `tuner.pkl`) carry it through a resume and `search resume --more N`.
Experiments launched before this searcher existed resume with the plain OptunaSearch their `tuner.pkl`
holds (their study is named `posetune`: `search.experiment.load_study` reads either).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

log = logging.getLogger(__name__)

STEP = "training_iteration"  # ASHA's time attribute: the step every result is reported at


class TruthfulOptunaSearch(OptunaSearch):
    """OptunaSearch that reports every result and tells stopped trials PRUNED, errors FAIL, and full-budget
    trials COMPLETE. `budget` is a trial's full budget in steps (the epochs of ASHA's last rung)."""

    def __init__(self, *args: Any, budget: int, **kwargs: Any):
        if budget < 1:
            raise ValueError(f"budget must be at least 1 step, got {budget}")
        self._budget = int(budget)
        self._last_step: dict[str, int] = {}  # trial id -> the last step told to Optuna
        self._errored: dict[str, dict[int, float]] = {}  # trial told FAIL -> what it reported since
        super().__init__(*args, **kwargs)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._errored:  # resumed after its error
            self._record_after_error(trial_id, result)
            return
        if trial_id in self._completed_trials:
            log.warning("result for trial %s after it finished: %s", trial_id, result)
            return
        self._report(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._errored:
            if not error:
                self._tell_after_error(trial_id, result)
            return
        if trial_id in self._completed_trials:
            log.warning("second completion of trial %s: %s", trial_id, result)
            return
        ot_trial = self._optuna_trial(trial_id, result)
        if ot_trial is None:  # never suggested by this searcher (nothing to tell)
            return
        if result and not error:
            self._report(trial_id, result)
        value = result.get(self.metric) if result else None
        state = TrialState.FAIL if error else self._state(self._last_step.get(trial_id), value)
        # PRUNED: Optuna takes the last intermediate value as the trial's value.
        values = float(value) if state == TrialState.COMPLETE else None
        try:
            self._ot_study.tell(ot_trial, values, state=state)
        except Exception as exc:  # as Ray's own: a bad value must not end the search
            log.warning("could not tell Optuna trial %s %s: %s", trial_id, state.name, exc)
        self._completed_trials.add(trial_id)
        self._last_step.pop(trial_id, None)
        if state == TrialState.FAIL and error:
            self._errored[trial_id] = {}

    def _state(self, step: int | None, value: Any) -> TrialState:
        if step is None:
            return TrialState.FAIL
        if step >= self._budget and value is not None and not math.isnan(float(value)):
            return TrialState.COMPLETE
        return TrialState.PRUNED

    def _record_after_error(self, trial_id: str, result: dict | None) -> None:
        value, step = (result or {}).get(self.metric), (result or {}).get(STEP)
        if value is not None and step is not None:
            self._errored[trial_id].setdefault(int(step), float(value))

    def _tell_after_error(self, trial_id: str, result: dict | None) -> None:
        """A trial told FAIL that resumed and ended: add it again, with everything it reported."""
        self._record_after_error(trial_id, result)
        failed = self._ot_trials[trial_id]
        frozen = next(t for t in self._ot_study.get_trials(deepcopy=False) if t.number == failed.number)
        values = {**frozen.intermediate_values, **self._errored.pop(trial_id)}
        last = max(values) if values else None
        state = self._state(last, values.get(last))
        try:
            self._ot_study.add_trial(
                optuna.trial.create_trial(
                    state=state,
                    value=values[last] if state != TrialState.FAIL else None,
                    params=frozen.params,
                    distributions=frozen.distributions,
                    intermediate_values=values,
                    user_attrs={"resumed_from": failed.number},
                )
            )
        except Exception as exc:
            log.warning("could not add resumed trial %s to Optuna: %s", trial_id, exc)

    def _report(self, trial_id: str, result: dict) -> None:
        """Tell Optuna `result`'s metric at its step, once per step (a resumed trial may repeat one)."""
        value, step = result.get(self.metric), result.get(STEP)
        if value is None or step is None:
            return
        step = int(step)
        if step <= self._last_step.get(trial_id, 0):
            return
        ot_trial = self._optuna_trial(trial_id, result)
        if ot_trial is None:
            log.warning(
                "trial %s is not in the Optuna study; its result at step %d is not told", trial_id, step
            )
            return
        ot_trial.report(float(value), step)
        self._last_step[trial_id] = step

    def _optuna_trial(self, trial_id: str, result: dict | None) -> optuna.Trial | None:
        """The Optuna trial behind a Tune trial: the one this searcher asked for it, else (a restored state
        that predates the ask) the RUNNING trial of the study, held by no other, with its parameters."""
        if trial_id in self._ot_trials:
            return self._ot_trials[trial_id]
        config = _config_of(result or {})
        if not config:
            return None
        held = {t.number for t in self._ot_trials.values()}
        for frozen in self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.number not in held and frozen.params and _same_params(frozen.params, config):
                log.warning(
                    "trial %s: adopting Optuna trial %d, asked before the driver stopped",
                    trial_id,
                    frozen.number,
                )
                self._ot_trials[trial_id] = optuna.Trial(self._ot_study, frozen._trial_id)
                return self._ot_trials[trial_id]
        return None


def _config_of(result: dict) -> dict[str, Any]:
    """A Tune result's trial config: nested under "config", or flattened to "config/<key>" (what Tune hands
    a searcher)."""
    if isinstance(result.get("config"), dict):
        return result["config"]
    return {key[len("config/") :]: value for key, value in result.items() if key.startswith("config/")}


def _same_params(params: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether an Optuna trial's parameters are the values of the Tune config's keys of the same names."""
    for name, value in params.items():
        if name not in config:
            return False
        given = config[name]
        if isinstance(value, float) and isinstance(given, (int, float)):
            if not math.isclose(value, float(given), rel_tol=1e-12, abs_tol=1e-15):
                return False
        elif value != given:
            return False
    return True
