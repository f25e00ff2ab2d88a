"""How workers learn that opt-outs are waiting: the job table is the queue, and nothing else carries a message.

On PostgreSQL the transaction that writes jobs also sends a NOTIFY, which PostgreSQL delivers to every listening
worker when, and only if, it commits: a worker on any machine hears of a job the moment it is durable, and never of
one that was rolled back. On SQLite, whose workers share the database's machine, a worker simply looks every
POLL_SECONDS; the look is one indexed query. Either way a worker also looks without being told, so that retries
whose time has come and the jobs of a dead worker are found too.
"""

import threading
import time
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, text

CHANNEL = "consentry_jobs"
POLL_SECONDS = 0.1
STOP_CHECK_SECONDS = 0.25


def announce(connection: Connection, targets: Iterable[str]) -> None:
    """Tell the workers, at this transaction's commit, which systems have new jobs (PostgreSQL only)."""
    if connection.dialect.name != "postgresql":
        return
    for target in sorted(set(targets)):  # PostgreSQL folds a transaction's identical notifications into one
        connection.execute(text("SELECT pg_notify(:channel, :target)"), {"channel": CHANNEL, "target": target})


class Listener:
    """Waits for an announcement, or for `timeout` seconds, whichever comes first: on SQLite, which announces
    nothing, for POLL_SECONDS at most."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._connection: Connection | None = None

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """True when an announcement came, False when the time ran out or `stop` was set."""
        if self._engine.dialect.name != "postgresql":
            stop.wait(min(timeout, POLL_SECONDS))
            return False
        try:
            return self._wait_for_notification(timeout, stop)
        except Exception:  # a broken connection: the next wait makes a new one
            self.close()
            raise

    def _wait_for_notification(self, timeout: float, stop: threading.Event) -> bool:
        driver = self._listening()
        deadline = time.monotonic() + timeout
        while not stop.is_set():  # in short slices, so that a worker told to stop does not wait out the timeout
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if next(driver.notifies(timeout=min(left, STOP_CHECK_SECONDS), stop_after=1), None) is not None:
                for _ in driver.notifies(timeout=0):  # take every other announcement waiting: one look serves all
                    pass
                return True
        return False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _listening(self):
        """The psycopg connection that LISTENs; made again after it broke (the caller backs off on the error)."""
        if self._connection is None:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                connection.execute(text(f"LISTEN {CHANNEL}"))
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection.connection.driver_connection
