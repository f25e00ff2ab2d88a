"""The propagation queue (huey): SQLite storage by default, Redis when CONSENTRY_REDIS_URL is set.

The queue carries job ids only; the job table is the truth. Each worker sweeps for due jobs when it starts and
every CONSENTRY_SWEEP_SECONDS after that (default 5), so retries come back on time and jobs held by a killed
worker are picked up again once their lease has run out.
"""

import logging
import os
import threading
from datetime import timedelta
from pathlib import Path

from huey import RedisHuey, SqliteHuey
from huey.signals import SIGNAL_ERROR

from .propagation import due_jobs, run_job

log = logging.getLogger("consentry.propagation")


def make_queue():
    redis_url = os.environ.get("CONSENTRY_REDIS_URL")
    if redis_url:
        return RedisHuey("consentry", url=redis_url)
    home = Path(os.environ.get("CONSENTRY_HOME") or ".")
    return SqliteHuey("consentry", filename=str(home / "consentry-queue.db"))


queue = make_queue()
_runtime = None


def runtime():
    """Built once per worker process, from the environment."""
    global _runtime
    if _runtime is None:
        from .runtime import build_runtime

        _runtime = build_runtime()
    return _runtime


@queue.task()
def propagate(job_id: int) -> str:
    current = runtime()
    max_attempts = int(current.config.get("MAX_ATTEMPTS", 8))
    lease = timedelta(seconds=float(current.config.get("LEASE_SECONDS", 30)))
    outcome = run_job(current.services.engine, current.connectors, job_id, max_attempts=max_attempts, lease=lease)
    if outcome.status == "failed" and outcome.retry_at is not None:
        propagate.schedule((job_id,), eta=outcome.retry_at)
    log.info("job %s: %s", job_id, outcome.status)
    return outcome.status


def sweep() -> int:
    """Re-enqueue every due job: retries whose time has come, and jobs a dead worker was holding."""
    jobs = due_jobs(runtime().services.engine)
    for job_id in jobs:
        propagate(job_id)
    return len(jobs)


def sweep_forever(interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sweep()
        except Exception:  # the next sweep tries again; a database hiccup must not stop the worker
            log.exception("sweep failed")
        stop.wait(interval)


@queue.signal(SIGNAL_ERROR)
def _log_errors(signal, task, exc=None) -> None:
    log.warning("task %s failed: %s", task.name, type(exc).__name__ if exc else "unknown")


def enqueue(job_ids) -> None:
    """After the commit: tell workers to look at these jobs now (a lost message is caught by the sweep)."""
    for job_id in job_ids:
        try:
            propagate(job_id)
        except Exception:  # the job is in the database; the sweep will pick it up
            log.warning("could not enqueue job %s; the sweep will", job_id)
