"""The API's in-process rate counters (`CONSENTRY_API_RATE_STORAGE=memory://`): limits' memory storage, less its
timer thread.

limits' `MemoryStorage` starts a new `threading.Timer` 10 ms after each counted request whenever the previous one
has run, to drop expired windows: under load, a thread started every few requests. Profiled on single decisions,
starting them (and waiting for each to run) was a sixth of a request's time. Its reads already ignore an expired
window, so sweeping is only about memory: here the request that passes by sweeps, at most once a second."""

import threading
import time

from limits.storage import MemoryStorage

SCHEME = "consentry-memory"
SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 - how limits finds it: `consentry-memory://`

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = 0.0
        self._sweeping = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the base's private hook, called by each counted request
        now = time.time()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweeping.release()


def storage_uri(configured: str) -> str:
    """The URI to give Flask-Limiter: `memory://` means these counters; any other storage as configured."""
    return f"{SCHEME}://" if configured.startswith("memory://") else configured
