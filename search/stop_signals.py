"""A driver's stop signals as Tune's graceful stop, remembered: what tells a stopped search from a complete one."""

from __future__ import annotations

import os
import signal


class GracefulStop:
    """SIGTERM (a cluster stopping the driver) and the first Ctrl-C become Tune's graceful SIGUSR1 stop for the
    block, and `requested` remembers it: Tune's fit() returns normally either way, and the trials its searcher
    had not yet proposed are nowhere in its state, so only this tells a stopped search from a complete one."""

    def __enter__(self):
        self.requested = False
        self._previous: dict = {}
        self._tune_sigint = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
        if not hasattr(signal, "SIGUSR1"):
            return self
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._stop)
        except ValueError:  # not the main thread: Tune installs no handlers there either
            return self
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Ctrl-C comes here instead of to Tune's handler
        return self

    def _stop(self, signum, frame):
        self.requested = True
        if signum == signal.SIGINT:  # a second Ctrl-C stops at once, as it does with Tune's own handler
            signal.signal(signal.SIGINT, self._previous[signal.SIGINT])
        os.kill(os.getpid(), signal.SIGUSR1)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self._tune_sigint is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = self._tune_sigint
