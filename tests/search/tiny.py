"""The tiny search setup shared by the tests that train or search (`bench.tiny`: TINY, tiny_config, a few
seconds per trial on a CPU), and the helpers that drive and watch a search from a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.tiny import TINY, tiny_config  # noqa: F401  (the tests import them from here)

# The arms of the shared tiny study (tests/conftest.py `tiny_study`): the baseline and two levers.
STUDY_ARMS = ["classic", "enhanced", "adversarial"]


def cli(*args: str, env: dict, cwd: Path | None = None) -> subprocess.Popen:
    """`posetune ARGS` as a driver process of its own (its own session and process group, so a kill takes
    the Ray it started with it), output merged into `stdout`."""
    return subprocess.Popen(
        [sys.executable, "-m", "search.cli", *args],
        cwd=cwd or Path(__file__).resolve().parents[2],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_process_group(process: subprocess.Popen) -> None:
    """SIGKILL a driver and every Ray process it started (they share its session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def wait_for_two_finished(read_states, driver: subprocess.Popen, timeout: float = 400) -> dict:
    """Poll `read_states()` (trial_id -> (status, last result)) until two trials finished and another
    has not: the moment to kill the driver. Fails if the driver exits first or time runs out."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = read_states()
        done = [t for t, (status, _) in states.items() if status == "TERMINATED"]
        if len(done) >= 2 and len(states) > len(done):
            return states
        assert driver.poll() is None, driver.stdout.read()
        time.sleep(0.5)
    raise AssertionError("the search never got two trials done")


def trial_states(fs, path: str) -> dict[str, tuple[str, dict]]:
    """trial_id -> (status, last reported result) of the experiment at `path` on `fs` ({} before Tune's
    first snapshot), read with posetune's plain-JSON reader."""
    from search.results.tune_files import NoTuneResults, read_trials

    try:
        return {t.trial_id: (t.status, t.results[-1] if t.results else {}) for t in read_trials(fs, path)}
    except NoTuneResults:
        return {}


def asha_records(fs, path: str, timeout: float = 10.0) -> dict:
    """(milestone, trial_id) -> recorded value, from the newest ASHA callback state Tune saved in the
    experiment at `path` on `fs`. A running driver may be writing that file this instant: a half-written one
    is read again until it is whole."""
    import pickle
    import time

    import pyarrow.fs

    deadline = time.monotonic() + timeout
    while True:
        selector = pyarrow.fs.FileSelector(path, allow_not_found=True)
        names = sorted(i.path for i in fs.get_file_info(selector) if "/callback-states-" in i.path)
        try:
            with fs.open_input_stream(names[-1]) as stream:
                state = pickle.loads(stream.readall())
            break
        except (EOFError, pickle.UnpicklingError, FileNotFoundError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    asha = next(s for s in state.values() if s and "rungs" in s)
    return {(m, tid): v for bracket in asha["rungs"] for m, rec in bracket for tid, v in rec.items()}
