"""Whether the database answers, as one worker process sees it.

With the database down, the sweep logged a traceback at every try and huey one more for each queued task: 2,309
lines in 20 s, which buried everything else. Now the loops that keep hitting the database wait longer after each
failure (doubling, up to a ceiling, back to normal at the first success), and one line says when it went away and
one when it came back.
"""

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError

# The connection failed or broke. Other errors (a constraint, a bad statement) are bugs and keep their traceback.
UNREACHABLE = (OperationalError, InterfaceError)

log = logging.getLogger("consentry.database")


class Outage:
    def __init__(self, *, first: float = 1.0, longest: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._first, self._longest, self._clock = first, longest, clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when it stopped answering; None while it answers
        self._delay = 0.0
        self._retry_at = 0.0

    def failed(self, error: BaseException) -> None:
        """One line when the database goes away; each further failure doubles the pause before the next try."""
        with self._lock:
            now = self._clock()
            if self._since is None:
                self._since, self._delay = now, self._first
                log.warning("database unreachable (%s); trying again with back-off", describe(error))
            else:
                self._delay = min(self._delay * 2, self._longest)
            self._retry_at = now + self._delay

    def answered(self) -> None:
        """One line when the database is back after an outage."""
        with self._lock:
            if self._since is not None:
                log.warning("database reachable again after %.0f s", self._clock() - self._since)
                self._since = None

    def pause(self, interval: float) -> float:
        """Seconds before a loop's next try: its own interval while the database answers, the back-off when not."""
        with self._lock:
            if self._since is None:
                return interval
            return max(interval, self._retry_at - self._clock())

    def holding(self) -> bool:
        """The database is away and its next try not yet due: a task leaves its work to the sweep."""
        with self._lock:
            return self._since is not None and self._clock() < self._retry_at


def describe(error: BaseException) -> str:
    """The driver's error type and code only: its text may name a host, a user or a statement."""
    cause = getattr(error, "orig", None) or error
    code = getattr(cause, "sqlite_errorname", None) or getattr(cause, "sqlstate", None)
    name = f"{type(cause).__module__}.{type(cause).__qualname__}"
    return f"{name} {code}" if code else name
