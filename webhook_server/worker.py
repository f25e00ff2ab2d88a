"""`consentry worker`: apply the opt-outs waiting in the job table to the systems that still lack them, and
carry out the rights requests' erasures there (erasing.py).

The job table is the queue (leases, retries and dead letters, written in the same transaction as the ledger). A
worker looks for due jobs whenever it is told of new ones (wakeups.py) and every CONSENTRY_SWEEP_SECONDS without
being told, which brings back retries whose time has come and jobs a dead worker held. Each system with due jobs is
drained by one thread of the process at a time, paced to the vendor's rate limit (draining.py); several workers, on
any machines sharing PostgreSQL, claim jobs from the same table and each job is applied once. Every
CONSENTRY_RECONCILE_SECONDS one worker, never two at once, compares the systems in full and repairs drift.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from consentry.sdk.store.engine import held_alone

from .draining import Drains, spacing_of
from .outage import UNREACHABLE, Outage
from .propagation import LEASE, MAX_ATTEMPTS, due_targets, run_target
from .runtime import Runtime
from .wakeups import Listener

log = logging.getLogger("consentry.propagation")


class Worker:
    def __init__(self, runtime: Runtime, *, threads: int = 4):
        self.runtime = runtime
        self.stop = threading.Event()
        self.database = Outage()
        self._threads = threads
        self._drains = Drains()
        self._requested: set[str] = set()  # targets handed to the pool and not started yet: one each is enough
        self._guard = threading.Lock()
        config = runtime.config
        self._sweep_seconds = float(config.get("SWEEP_SECONDS", 5))
        self._reconcile_seconds = float(config.get("RECONCILE_SECONDS", 3600))
        self._max_attempts = int(config.get("MAX_ATTEMPTS", MAX_ATTEMPTS))
        self._lease = timedelta(seconds=float(config.get("LEASE_SECONDS", LEASE.total_seconds())))

    def run(self) -> None:
        """Work until `stop` is set, then finish the batches under way."""
        listener = Listener(self.runtime.services.engine)
        if self._reconcile_seconds > 0:
            threading.Thread(target=self._reconcile_forever, name="consentry-reconciler", daemon=True).start()
        with ThreadPoolExecutor(self._threads, thread_name_prefix="consentry-drain") as pool:
            try:
                while not self.stop.is_set():
                    if self.database.holding():  # away, and its next try not due yet
                        self.stop.wait(self.database.pause(0))
                        continue
                    try:
                        self.look(pool)
                        self.database.answered()
                        listener.wait(self._sweep_seconds, self.stop)
                    except UNREACHABLE as error:  # one line for the outage, not a traceback per try
                        self.database.failed(error)
            finally:
                self.stop.set()
                listener.close()

    def look(self, pool: ThreadPoolExecutor) -> int:
        """Hand every system with due jobs to a drain thread; returns how many systems that was."""
        targets = due_targets(self.runtime.services.engine)
        for target in targets:
            with self._guard:
                if target in self._requested:
                    continue
                self._requested.add(target)
            pool.submit(self.propagate_to, target)
        return len(targets)

    def propagate_to(self, target: str) -> int:
        """Apply the due opt-outs of one system in batches, until none is due; a failed push comes back at its
        retry time through a later look. With the database away the jobs stay due, for the next look."""
        with self._guard:
            self._requested.discard(target)
        if self.database.holding():
            return 0
        engine, connectors = self.runtime.services.engine, self.runtime.connectors

        def apply_batch() -> int:
            if self.stop.is_set():
                return 0
            outcomes = run_target(
                engine,
                connectors,
                target,
                max_attempts=self._max_attempts,
                lease=self._lease,
                suppression=self.runtime.services.suppression,
            )
            self.database.answered()
            return len(outcomes)

        try:
            handled = self._drains.run(target, apply_batch, spacing_of(connectors.get(target)))
        except UNREACHABLE as error:
            self.database.failed(error)
            return 0
        except Exception:  # a bug in one batch must not end the drain thread's pool; the jobs stay due
            log.exception("propagation to %s failed", target)
            return 0
        if handled:
            log.info("%s: %s opt-outs handled", target, handled)
        return handled

    def reconcile(self) -> int | None:
        """Read every system in full and push the opt-outs any of them lacks (missed webhooks, changes made while
        the server was down). None when another worker is reconciling already."""
        from .sync import run_sync

        with held_alone(self.runtime.services.engine, "reconcile") as mine:
            if not mine:
                self.database.answered()
                log.info("reconciliation skipped: another worker is running one")
                return None
            summary = run_sync(self.runtime, full=True, tags=False)
        self.database.answered()
        pushed = sum(counts.unsubscribes_pushed for counts in summary.systems.values())
        log.info("reconciliation: %s people, %s opt-outs repaired", summary.people, pushed)
        return pushed

    def _reconcile_forever(self) -> None:
        while not self.stop.wait(self._reconcile_seconds):
            if self.database.holding():  # away: the round is skipped, not added to the back-off's tries
                continue
            try:
                self.reconcile()
            except UNREACHABLE as error:  # the next round tries again
                self.database.failed(error)
            except Exception:  # nothing must end the reconciler
                log.exception("reconciliation failed")
