"""`/console/jobs`: propagation jobs that failed (they will be retried) or are dead (out of tries), with their
error; an operator replays one job from scratch, as `consentry propagation retry` replays them all."""

from datetime import UTC, datetime

from flask import abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import Engine, select, update

from consentry.sdk.store import propagation_jobs, reading

from ..wakeups import announce
from .audit import record
from .auth import operator_required
from .blueprint import blueprint, services
from .overview import cached_figures

RETRYABLE = ("failed", "dead")
SHOWN = 500


def troubled_jobs(engine: Engine) -> list[dict]:
    table = propagation_jobs.c
    query = (
        select(
            table.id,
            table.source_system,
            table.target_system,
            table.channel,
            table.action,
            table.status,
            table.attempts,
            table.last_error,
            table.updated_at,
            table.next_attempt_at,
        )
        .where(table.status.in_(RETRYABLE))
        .order_by(table.status.desc(), table.updated_at.desc(), table.id.desc())  # dead first, latest first
        .limit(SHOWN)
    )
    with reading(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def retry_job(engine: Engine, job_id: int, *, now: datetime | None = None) -> bool:
    """Replay one failed or dead job from scratch (pending, no attempts) and wake its target's workers; False
    when there is no such job in either state."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        target = connection.execute(
            update(propagation_jobs)
            .where(propagation_jobs.c.id == job_id, propagation_jobs.c.status.in_(RETRYABLE))
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now, last_error=None)
            .returning(propagation_jobs.c.target_system)
        ).scalar_one_or_none()
        if target is None:
            return False
        announce(connection, [target])
    return True


@blueprint.get("/jobs")
@login_required
def jobs():
    return render_template("console/jobs.html", jobs=troubled_jobs(services().engine), shown=SHOWN)


@blueprint.post("/jobs/<int:job_id>/retry")
@operator_required
def retry(job_id: int):
    engine = services().engine
    if not retry_job(engine, job_id):
        abort(404, f"no failed or dead propagation job {job_id}")
    cached_figures().drop()  # the overview's queue counted this job failed or dead
    record(engine, current_user.name, f"retry job {job_id}")
    return redirect(url_for("console.jobs"))
