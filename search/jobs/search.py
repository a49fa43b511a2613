"""`posetune search launch|resume`: start or continue a search, asking to resume an existing experiment of
the same name on a terminal, and print its outcome (the counts, the best trial, what to run next); an
interrupted or failed search raises for the CLI's exit code."""

from __future__ import annotations

import sys

from models import metric_names as names
from search.config import dump_config, load_config
from search.experiment import experiment_exists, experiment_uri
from search.results.trials import LABEL_FREE_TABLE
from search.tuner import check_launch, launch, raise_if_failed, raise_if_interrupted, resume


def launch_search(
    config_name: str, overrides: list[str], *, name: str | None = None, storage: str | None = None,
    address: str | None = None, resume_if_exists: bool = False, check: bool = False,
) -> None:  # fmt: skip
    """Launch the search of the experiment config `config_name` (with `--set` overrides; `storage` sets
    storage.path); `check` validates it and prints the resolved config and its experiment instead."""
    settings = {"storage.path": storage} if storage is not None else {}
    config = load_config(config_name, overrides, settings)
    if check:
        uri = check_launch(config, name or f"{config.name}-<time>")
        print(dump_config(config), end="")
        print(f"# config valid; the search would write {uri}")
        return
    if_exists = "resume" if resume_if_exists else "error"
    if name and not resume_if_exists:
        uri = experiment_uri(config.storage.path, name)
        if experiment_exists(uri) and _ask_to_resume(uri):
            if_exists = "resume"
    print_outcome(launch(config, name=name, address=address, if_exists=if_exists))


def resume_search(path: str, *, address: str | None = None, more: int = 0) -> None:
    """Continue the search in the experiment at `path` (adding `more` trials) and print its outcome."""
    print_outcome(resume(path, address=address, more=more))


def _ask_to_resume(uri: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{uri} already exists. Resume it? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def print_outcome(outcome) -> None:
    """How many trials finished, the best one's target-val PDJ and label-free scores, and what to run next
    (raises SearchInterrupted or SearchFailed, after the counts, where the search did not end well)."""
    print(
        f"\n{outcome.finished} finished, {outcome.errored} errored, {outcome.unfinished} unfinished "
        f"of {outcome.num_trials} trials"
        + (f" ({outcome.not_started} not started)" if outcome.not_started else "")
        + f" in {outcome.experiment_uri}"
    )
    if outcome.best:
        shown = {
            k: round(v, 4)
            for k, v in outcome.best.metrics.items()
            if k.startswith(names.TARGET_VAL + "pdj") or k in LABEL_FREE_TABLE
        }
        print(f"best trial {outcome.best.trial_id}: {shown}")
    raise_if_interrupted(outcome)
    raise_if_failed(outcome)
    print(f"next: posetune search inspect {outcome.experiment_uri}")
