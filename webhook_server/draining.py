"""One drain per target system and worker process, paced to the vendor's rate limit.

Opt-outs arrive one webhook at a time. If every arrival spent its own vendor call, a burst would exhaust HubSpot's
rolling window in seconds, and every worker thread would then sleep in the rate limiter, holding up the other
systems too. Instead a single thread drains a target: a request for a target already draining only asks that thread
to look once more, and its calls are spaced evenly over the vendor's window, so the opt-outs that arrive in between
share the next call. Across processes nothing is shared but the job table, whose claims keep every job applied once.
"""

import threading
import time
from collections.abc import Callable


class Drains:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._wanted: set[str] = set()
        self._next_call: dict[str, float] = {}

    def run(self, target: str, apply_batch: Callable[[], int], spacing: float = 0.0) -> int:
        """Call `apply_batch` until it finds nothing due, unless another thread is draining `target` already (it
        will look again). `apply_batch` returns how many jobs it found; calls start `spacing` seconds apart."""
        applied = 0
        while True:
            with self._guard:
                self._wanted.add(target)  # before trying the lock: a busy drainer then sees it after its release
                lock = self._locks.setdefault(target, threading.Lock())
            if not lock.acquire(blocking=False):
                return applied
            try:
                with self._guard:
                    self._wanted.discard(target)
                applied += self._drain(target, apply_batch, spacing)
            finally:
                lock.release()
            with self._guard:
                if target not in self._wanted:
                    return applied

    def _drain(self, target: str, apply_batch: Callable[[], int], spacing: float) -> int:
        applied = 0
        while True:
            wait = self._next_call.get(target, 0.0) - self._clock()
            if wait > 0:
                self._sleep(wait)
            self._next_call[target] = self._clock() + spacing
            found = apply_batch()
            if not found:
                return applied
            applied += found


# Propagation takes at most this share of a vendor's rolling window: the same token also serves the webhook server's
# look-ups (a HubSpot delivery names contacts by id only) and any sync or reconciliation running meanwhile.
WINDOW_SHARE = 0.5


def spacing_of(connector) -> float:
    """Seconds between propagation calls so that they use WINDOW_SHARE of the connector's rolling rate window (0
    when it has none): a burst then never exhausts the window and stalls for the rest of it."""
    limiter = getattr(getattr(connector, "transport", None), "limiter", None)
    limit, period = getattr(limiter, "limit", None), getattr(limiter, "period", None)
    if not isinstance(limit, int) or not isinstance(period, int | float) or limit <= 0:
        return 0.0
    return period / (limit * WINDOW_SHARE)
