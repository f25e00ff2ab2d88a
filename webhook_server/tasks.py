"""The propagation queue (huey): SQLite storage by default, Redis when CONSENTRY_REDIS_URL is set.

The queue carries target names only; the job table is the truth. Each worker sweeps for due jobs when it starts and
every CONSENTRY_SWEEP_SECONDS after that (default 5), so retries come back on time and jobs held by a killed
worker are picked up again once their lease has run out. Every CONSENTRY_RECONCILE_SECONDS (default one hour) a
reconciliation compares the systems in full and repairs drift.
"""

import logging
import os
import threading
from datetime import timedelta
from pathlib import Path

from huey import Huey, RedisHuey
from huey.signals import SIGNAL_ERROR
from huey.storage import SqliteStorage

from consentry.sdk.store.engine import keep_private

from .draining import Drains, spacing_of
from .outage import UNREACHABLE, Outage
from .propagation import LEASE, bound_vendor_calls, due_targets, run_target

log = logging.getLogger("consentry.propagation")


def make_queue():
    redis_url = os.environ.get("CONSENTRY_REDIS_URL")
    if redis_url:
        return RedisHuey("consentry", url=redis_url)
    filename = str(Path(os.environ.get("CONSENTRY_HOME") or ".") / "consentry-queue.db")
    return Huey("consentry", storage_class=_SqliteQueueStorage, filename=filename)


class _SqliteQueueStorage(SqliteStorage):
    """huey's SQLite storage, whose file is made on first use (owner-only, like the database beside it), not when
    this module is imported: importing it left a `consentry-queue.db` in whatever folder the importer stood in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, create_tables=False, **kwargs)

    def _create_connection(self):
        keep_private(self.filename)
        connection = super()._create_connection()
        for statement in self.ddl:  # "if not exists": once per connection costs nothing worth saving
            connection.execute(statement)
        return connection


queue = make_queue()
_runtime = None
_drains = Drains()
database = Outage()


def runtime():
    """Built once per worker process, from the environment."""
    global _runtime
    if _runtime is None:
        from .runtime import build_runtime

        _runtime = build_runtime()
        bound_vendor_calls(_runtime.connectors)  # a trickling vendor cannot hold a worker thread for ever
    return _runtime


@queue.task()
def propagate_to(target: str) -> int:
    """Apply the due opt-outs of one target system in batches; a retry comes back through the sweep. With the
    database away the jobs stay due there, and the sweep enqueues them again once it answers."""
    if database.holding():
        return 0
    current = runtime()
    max_attempts = int(current.config.get("MAX_ATTEMPTS", 8))
    lease = timedelta(seconds=float(current.config.get("LEASE_SECONDS", LEASE.total_seconds())))

    def apply_batch() -> int:
        engine = current.services.engine
        found = len(run_target(engine, current.connectors, target, max_attempts=max_attempts, lease=lease))
        database.answered()  # here, not after the drain: a drain left to another thread reached nothing
        return found

    try:
        handled = _drains.run(target, apply_batch, spacing_of(current.connectors.get(target)))
    except UNREACHABLE as error:
        database.failed(error)
        return 0
    if handled:
        log.info("%s: %s opt-outs handled", target, handled)
    return handled


def sweep() -> int:
    """Re-enqueue every target with due jobs: retries whose time has come, and jobs a dead worker was holding."""
    targets = due_targets(runtime().services.engine)
    for target in targets:
        propagate_to(target)
    return len(targets)


def sweep_forever(interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sweep()
            database.answered()
        except UNREACHABLE as error:  # one line for the outage, not a traceback per try
            database.failed(error)
        except Exception:  # the next sweep tries again; nothing must stop the worker
            log.exception("sweep failed")
        stop.wait(database.pause(interval))


@queue.task()
@queue.lock_task("consentry-reconcile")
def reconcile() -> int:
    """Catch-up: read every system in full and push the opt-outs any of them lacks (missed webhooks, changes made
    while the server was down). One at a time across all workers."""
    from .sync import run_sync

    try:
        summary = run_sync(runtime(), full=True, tags=False)
    except UNREACHABLE as error:  # the next round tries again
        database.failed(error)
        return 0
    database.answered()
    pushed = sum(counts.unsubscribes_pushed for counts in summary.systems.values())
    log.info("reconciliation: %s people, %s opt-outs repaired", summary.people, pushed)
    return pushed


def reconcile_forever(interval: float, stop: threading.Event) -> None:
    """Enqueue a reconciliation every `interval` seconds (CONSENTRY_RECONCILE_SECONDS; 0 turns it off)."""
    while not stop.wait(interval):
        try:
            reconcile()
        except Exception:  # the queue is down: the next round tries again
            log.exception("could not enqueue the reconciliation")


@queue.signal(SIGNAL_ERROR)
def _log_errors(signal, task, exc=None) -> None:
    log.warning("task %s failed: %s", task.name, type(exc).__name__ if exc else "unknown")


def enqueue(targets) -> None:
    """After the commit: tell workers which systems have new jobs (a lost message is caught by the sweep)."""
    for target in sorted(set(targets)):
        try:
            propagate_to(target)
        except Exception:  # the jobs are in the database; the sweep will pick them up
            log.warning("could not enqueue propagation to %s; the sweep will", target)
