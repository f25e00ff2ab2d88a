"""Group commit: the deliveries that arrive together share one transaction, and one flush to disk.

Each request thread hands its delivery to the process's writer thread and waits; the writer takes everything that
is waiting, records it in one transaction, commits, and only then releases the requests, which answer 2xx. Under
load one commit serves tens of deliveries; alone, a delivery waits for nobody. When a shared transaction fails,
each of its deliveries is retried in a transaction of its own, so one bad delivery cannot fail the others.
The workers learn of the new jobs from the transaction itself (wakeups.py): nothing is sent after the commit.
"""

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("consentry.inbox")

MAX_GROUP = 200
WAIT_SECONDS = 30.0


class InboxUnavailable(ConnectionError):
    """The delivery could not be committed in time, or the inbox writer could not be reached: it is not
    acknowledged (a 503), and the vendor delivers it again."""


class _Pending:
    __slots__ = ("delivery", "done", "error", "then")

    def __init__(self, delivery, then=None):
        self.delivery = delivery
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.then = then


class CommitGroup:
    """`record(deliveries)` writes and commits a list of deliveries."""

    def __init__(self, record: Callable[[Sequence], None]):
        self._record = record
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer_pid: int | None = None
        self._start_lock = threading.Lock()

    def submit(self, delivery) -> None:
        """Return once the delivery is committed; raise what recording it raised."""
        self._ensure_writer()
        pending = _Pending(delivery)
        self._queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):  # it may still commit: the vendor's new delivery is then a duplicate
            raise InboxUnavailable("the inbox writer did not commit in time; the delivery was not acknowledged")
        if pending.error is not None:
            raise pending.error

    def write_now(self, items: Sequence[tuple[object, Callable[[object, BaseException | None], None]]]) -> None:
        """Record these deliveries in this thread, in one transaction, then call each one's `then(delivery, error)`:
        for a caller whose own loop gathers the deliveries (the writer process), so that no thread hand-off costs
        it the interpreter lock."""
        self._write([_Pending(delivery, then) for delivery, then in items])

    def _ensure_writer(self) -> None:
        """One writer per process, started in the process that serves (gunicorn forks after the app is built)."""
        if self._writer_pid == os.getpid():
            return
        with self._start_lock:
            if self._writer_pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._write_forever, name="consentry-inbox-writer", daemon=True).start()
                self._writer_pid = os.getpid()

    def _write_forever(self) -> None:
        while True:
            self._write(_take(self._queue, MAX_GROUP))

    def _write(self, group: list[_Pending]) -> None:
        try:
            self._record([pending.delivery for pending in group])
        except Exception as error:
            if len(group) > 1:  # find the culprit: each delivery alone, so the others still land
                for pending in group:
                    self._write([pending])
                return
            group[0].error = error
        for pending in group:
            pending.done.set()
            if pending.then is not None:
                try:
                    pending.then(pending.delivery, pending.error)
                except Exception:  # the writer thread must outlive a caller that went away
                    log.warning("could not hand a delivery's outcome back")


def _take(waiting: queue.SimpleQueue, most: int | None = None) -> list:
    """The next item (waiting for one), and every other item already there, up to `most`."""
    items = [waiting.get()]
    while most is None or len(items) < most:
        try:
            items.append(waiting.get_nowait())
        except queue.Empty:
            break
    return items
