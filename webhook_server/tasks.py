"""The propagation queue (huey): SQLite storage by default, Redis when CONSENTRY_REDIS_URL is set.

The queue carries job ids only; the job table is the truth. Each worker sweeps for due jobs when it starts (so
jobs held by a killed worker come back) and every minute after that.
"""

import logging
import os
from pathlib import Path

from huey import RedisHuey, SqliteHuey, crontab
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
    outcome = run_job(current.services.engine, current.connectors, job_id, max_attempts=max_attempts)
    if outcome.status == "failed" and outcome.retry_at is not None:
        propagate.schedule((job_id,), eta=outcome.retry_at)
    log.info("job %s: %s", job_id, outcome.status)
    return outcome.status


@queue.periodic_task(crontab(minute="*"))
def sweep() -> int:
    """Re-enqueue every due job: retries whose time has come, and jobs a dead worker was holding."""
    jobs = due_jobs(runtime().services.engine)
    for job_id in jobs:
        propagate(job_id)
    return len(jobs)


@queue.on_startup()
def _sweep_on_start() -> None:
    for job_id in due_jobs(runtime().services.engine):
        propagate(job_id)


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
