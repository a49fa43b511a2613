"""After a restore, the live ASHA scheduler decides as the interrupted one would have.

Tune saves the callback's state with each snapshot and pickles the scheduler and the callback together in
`tuner.pkl`; a restore unpickles both, then hands the saved state to the callback. This replays that: the
decision asked of the restored scheduler is the one that matters (a weak trial at a rung is stopped), not
the saved records alone.
"""

from __future__ import annotations

import pickle

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from search.asha_state import AshaStateCallback

METRIC = "target_val_pdj20"


def _scheduler() -> ASHAScheduler:
    return ASHAScheduler(
        time_attr="training_iteration", metric=METRIC, mode="max", max_t=8, grace_period=1, reduction_factor=2
    )


def _trial(trial_id: str) -> Trial:
    return Trial("run_trial", trial_id=trial_id, stub=True)


def _report(scheduler: ASHAScheduler, trial: Trial, epoch: int, value: float) -> str:
    return scheduler.on_trial_result(None, trial, {"training_iteration": epoch, METRIC: value})


def _interrupted_run() -> tuple[bytes, dict]:
    """A run where two strong trials passed the first rung: (tuner.pkl-like bytes, saved callback state)."""
    scheduler = _scheduler()
    callback = AshaStateCallback(scheduler)
    pickled_at_construction = pickle.dumps((scheduler, callback))  # what tuner.pkl holds
    for trial_id, value in (("strong1", 0.8), ("strong2", 0.9)):  # rising: both pass
        trial = _trial(trial_id)
        scheduler.on_trial_add(None, trial)
        assert _report(scheduler, trial, 1, value) == TrialScheduler.CONTINUE
    return pickled_at_construction, pickle.loads(pickle.dumps(callback.get_state()))


def test_the_restored_scheduler_stops_a_weak_trial_at_the_first_rung():
    tuner_pkl, saved = _interrupted_run()
    scheduler, callback = pickle.loads(tuner_pkl)  # a new driver restores
    callback.set_state(saved)
    weak = _trial("weak")
    scheduler.on_trial_add(None, weak)
    assert _report(scheduler, weak, 1, 0.1) == TrialScheduler.STOP


def test_without_the_saved_rungs_the_same_weak_trial_would_run_on():
    """The control: Tune's own restore (empty rungs) lets it continue, which is what the callback fixes."""
    tuner_pkl, _ = _interrupted_run()
    scheduler, _ = pickle.loads(tuner_pkl)
    weak = _trial("weak")
    scheduler.on_trial_add(None, weak)
    assert _report(scheduler, weak, 1, 0.1) == TrialScheduler.CONTINUE


def test_a_strong_trial_still_passes_after_the_restore():
    tuner_pkl, saved = _interrupted_run()
    scheduler, callback = pickle.loads(tuner_pkl)
    callback.set_state(saved)
    strong = _trial("strong3")
    scheduler.on_trial_add(None, strong)
    assert _report(scheduler, strong, 1, 0.95) == TrialScheduler.CONTINUE
