"""Weights & Biases through Ray's integration: one run per trial, grouped by experiment.

Offline when no API key is set (runs land in each trial's folder; `wandb sync` uploads them later).
Tracking is a side channel: nothing here may fail a search, so errors become warnings.
"""

from __future__ import annotations

import logging
import netrc
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np
import pyarrow.fs
import ray
from ray.air.integrations.wandb import (
    WandbLoggerCallback,
    _clean_log,
    _force_on_current_node,
    _QueueItem,
    _WandbLoggingActor,
)

from search.config import TrackingConfig
from search.credentials import redact

log = logging.getLogger(__name__)
OVERLAY_FILE = "predictions.png"  # written into a checkpoint by the trainable, shown as an image in W&B


def has_wandb_api_key() -> bool:
    """An API key in the environment or in ~/.netrc (where `wandb login` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(tracking: TrackingConfig) -> str | None:
    """`online`, `offline`, or None (tracking off)."""
    if tracking.wandb == "none":
        return None
    if tracking.wandb == "auto":
        return "online" if has_wandb_api_key() else "offline"
    return tracking.wandb


def wandb_env(mode: str | None) -> dict[str, str]:
    """Environment for the driver and the workers (W&B reads WANDB_MODE there, not only the argument)."""
    if mode is None:
        return {"WANDB_MODE": "disabled"}
    return {"WANDB_MODE": mode, "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}


def tracking_callbacks(experiment: dict[str, Any], tracking: TrackingConfig) -> list:
    """The Tune callbacks that track a run as the config asks: a W&B callback, or none."""
    mode = resolve_mode(tracking)
    return [] if mode is None else [PosetuneWandbCallback(experiment, tracking, mode)]


class _FlushingLoggingActor(_WandbLoggingActor):
    """Ray's logging actor, but it waits for W&B's writer to shut down before it may be killed.

    Ray kills the actor as soon as `run()` returns; W&B's service process writes the run file behind
    `wandb.finish()`, so a short trial could leave an offline run file with nothing but its header.
    """

    def __init__(self, *args, api_key: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._api_key = api_key

    def run(self):
        if self._api_key:  # handed over as an argument: Ray's runtime_env would write it to its agent log
            os.environ["WANDB_API_KEY"] = self._api_key
        try:
            super().run()
        finally:
            self._wandb.teardown()


class PosetuneWandbCallback(WandbLoggerCallback):
    """Ray's W&B callback, with the full resolved config, prediction overlays, and no failure modes.

    Two changes to how Ray's callback talks to its logging actors:
    - the API key goes to the actor as an argument, never through `runtime_env` env vars (Ray's runtime
      env agent writes those to a log file in its temp dir);
    - results are handed over on one background thread, in order: Ray's callback blocks the driver on a
      round trip to the trial's queue actor for every result (seconds while that actor starts), and the
      overlay is read from storage there too. bench/driver_cost.py measures it.
    """

    _logger_actor_cls = _FlushingLoggingActor

    def __init__(self, experiment: dict[str, Any], tracking: TrackingConfig, mode: str, **kwargs):
        super().__init__(
            project=tracking.project,
            entity=tracking.entity,
            mode=mode,
            upload_timeout=60,
            excludes=["checkpoint_dir_name"],
            log_config=False,
            **kwargs,
        )
        self.experiment = redact(experiment)  # W&B's files and tuner.pkl (callbacks are pickled) keep it
        self.log_images = tracking.log_images
        self._mode = mode
        self._sender: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_sender=None, _pending=[])
        return state

    def _send(self, function, *args) -> None:
        """Run `function(*args)` on the one background thread, after everything sent before it."""
        if self._sender is None:
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posetune-wandb")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._sender.submit(self._guard, function, *args))

    def _flush(self) -> None:
        for future in self._pending:
            future.result()
        self._pending = []

    def _start_logging_actor(self, trial, exclude_results, **wandb_init_kwargs):
        if self._remote_logger_class is None:  # Ray's version adds runtime_env={"env_vars": {key}}
            self._remote_logger_class = ray.remote(
                num_cpus=0, **_force_on_current_node(), max_restarts=-1, max_task_retries=-1
            )(self._logger_actor_cls)
        key = os.environ.get("WANDB_API_KEY") if self._mode == "online" else None
        super()._start_logging_actor(trial, exclude_results, api_key=key, **wandb_init_kwargs)

    def setup(self, *args, **kwargs):
        try:
            super().setup(*args, **kwargs)
        except Exception as error:  # a missing key or bad project must not stop the search
            log.warning("W&B tracking is off for this search: %s", error)
            self._disabled = True

    def log_trial_start(self, trial):
        if getattr(self, "_disabled", False):
            return
        # The trial's own config holds only the searched keys; W&B gets the whole resolved experiment too.
        self.kwargs["config"] = {"experiment": self.experiment, **trial.config}
        self._guard(super().log_trial_start, trial)

    def log_trial_result(self, iteration, trial, result):
        if getattr(self, "_disabled", False):
            return
        if trial not in self._trial_logging_actors:
            self._guard(self.log_trial_start, trial)
        queue = self._trial_queues.get(trial)
        if queue is not None:
            self._send(self._put_result, trial, queue, dict(result))

    def _put_result(self, trial, queue, result: dict) -> None:
        if self.log_images:
            overlay = self._read_overlay(trial, result)
            if overlay is not None:
                result["target_val_predictions"] = overlay
        result = _clean_log(result, video_kwargs=self.video_kwargs, image_kwargs=self.image_kwargs)
        queue.put((_QueueItem.RESULT, result))

    def _signal_logging_actor_stop(self, trial):
        queue = self._trial_queues[trial]
        self._send(queue.put, (_QueueItem.END, None))

    def log_trial_end(self, trial, failed=False):
        if getattr(self, "_disabled", False) or trial not in self._trial_logging_actors:
            return
        self._guard(super().log_trial_end, trial, failed)

    def on_experiment_end(self, trials, **info):
        if getattr(self, "_disabled", False):
            return
        self._flush()
        self._guard(super().on_experiment_end, trials, **info)  # waits for every run to finish writing
        for trial in trials:
            self._guard(self._upload_runs, trial)

    @staticmethod
    def _upload_runs(trial) -> None:
        """Copy the trial's W&B folder from Ray's driver staging dir to the experiment storage.

        The logging actors write there, and Tune's last sync to storage can come before the last runs
        finish: without this the final trials' offline runs would stay behind in /tmp/ray.
        """
        local = os.path.join(trial.local_path, "wandb")
        if not os.path.isdir(local):
            return
        storage = trial.storage
        target = f"{storage.trial_fs_path}/wandb"
        if os.path.realpath(local) == os.path.realpath(target):
            return
        pyarrow.fs.copy_files(
            local,
            target,
            source_filesystem=pyarrow.fs.LocalFileSystem(),
            destination_filesystem=storage.storage_filesystem,
        )

    @staticmethod
    def _guard(method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as error:
            log.warning("W&B logging failed (the search goes on): %s", error)
            return None

    @staticmethod
    def _read_overlay(trial, result) -> np.ndarray | None:
        """The overlay PNG the trainable put in this result's checkpoint, from the experiment storage."""
        name = result.get("checkpoint_dir_name")
        if not name:
            return None
        try:
            storage = trial.storage
            path = f"{storage.trial_fs_path}/{name}/{OVERLAY_FILE}"
            with storage.storage_filesystem.open_input_stream(path) as stream:
                data = np.frombuffer(stream.readall(), dtype=np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
            return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        except (OSError, FileNotFoundError):
            return None
