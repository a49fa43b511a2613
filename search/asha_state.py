"""Keep ASHA's rungs across `Tuner.restore` (Tune 2.60 does not save the scheduler: ray-project/ray#30838).

Without this, a resumed search starts with empty rungs, so trials that the first run would have stopped
train to the end and waste GPU time. Tune saves every callback's `get_state()` with each experiment
snapshot and hands it back to `set_state()` on restore, before restored trials are re-added; the callback
and the scheduler are pickled together in `tuner.pkl`, so after a restore they are the same objects again.
This reads attributes private to Ray's AsyncHyperBandScheduler: Ray is pinned and tests cover it.
"""

from __future__ import annotations

from typing import Any

from ray.tune import Callback
from ray.tune.schedulers import AsyncHyperBandScheduler


def rung_records(scheduler: AsyncHyperBandScheduler) -> list[list[tuple[float, dict[str, float]]]]:
    """Every bracket's rungs as (milestone, {trial_id: recorded metric}) copies."""
    return [
        [(milestone, dict(recorded)) for milestone, recorded in bracket._rungs]
        for bracket in scheduler._brackets
    ]


class AshaStateCallback(Callback):
    """Carries an ASHA scheduler's rung records and counters through experiment snapshots."""

    def __init__(self, scheduler: AsyncHyperBandScheduler):
        self.scheduler = scheduler

    def get_state(self) -> dict[str, Any] | None:
        return {
            "rungs": rung_records(self.scheduler),
            "num_stopped": self.scheduler._num_stopped,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        brackets = self.scheduler._brackets
        saved = state["rungs"]
        if len(saved) != len(brackets):
            raise ValueError(f"saved ASHA state has {len(saved)} brackets, the scheduler has {len(brackets)}")
        for bracket, saved_rungs in zip(brackets, saved, strict=True):
            milestones = [milestone for milestone, _ in bracket._rungs]
            if milestones != [milestone for milestone, _ in saved_rungs]:
                raise ValueError("saved ASHA rungs do not match the scheduler's milestones")
            for (_, recorded), (_, saved_recorded) in zip(bracket._rungs, saved_rungs, strict=True):
                recorded.clear()
                recorded.update(saved_recorded)
        self.scheduler._num_stopped = state["num_stopped"]
