"""Applying opt-outs to the other systems: claim a job, push the unsubscribe, record the outcome.

Jobs live in the database (the audit trail: pending, running, done, failed, dead, with timestamps); the queue only
says "look at job N now". A job is claimed with a lease, so a worker killed mid-job loses nothing: once the lease
runs out the job is due again. Pushing an unsubscribe is idempotent, so doing it twice is harmless.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, or_, select, update

from connectors.base import Connector, Unsubscribe
from sdk.errors import ConnectorError
from sdk.store import persons, propagation_jobs, reading

log = logging.getLogger("consentry.propagation")

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 8


def backoff(attempt: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at 5 minutes."""
    return timedelta(seconds=min(2 ** (attempt - 1), 300))


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: str  # done, failed (retry at `retry_at`), dead, skipped (claimed elsewhere or finished)
    retry_at: datetime | None = None


def due_jobs(engine: Engine, *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Jobs waiting for a first try or a retry, and jobs whose worker died holding them."""
    now = now or datetime.now(UTC)
    table = propagation_jobs.c
    query = (
        select(table.id)
        .where(
            or_(
                and_(table.status.in_(["pending", "failed"]), table.next_attempt_at <= now),
                and_(table.status == "running", table.lease_until < now),
            )
        )
        .order_by(table.next_attempt_at)
        .limit(limit)
    )
    with reading(engine) as connection:
        return list(connection.execute(query).scalars())


def run_job(
    engine: Engine,
    connectors: Mapping[str, Connector],
    job_id: int,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
) -> Outcome:
    claimed = _claim(engine, job_id, now(), lease, max_attempts)
    if claimed is None:
        return Outcome(job_id, "skipped")
    connector = connectors.get(claimed.target_system)
    if connector is None:
        return _finish(engine, job_id, "dead", now(), error="TARGET_NOT_CONFIGURED")
    unsubscribe = Unsubscribe(
        email=claimed.email, phone=claimed.phone, channels=frozenset({claimed.channel}), record_id=None
    )
    try:
        report = connector.push_unsubscribes([unsubscribe])
    except Exception as error:  # see `_failure`
        code, retryable = _failure(claimed.target_system, error)
        if retryable and claimed.attempts < max_attempts:
            retry_at = now() + backoff(claimed.attempts)
            return _finish(engine, job_id, "failed", now(), error=code, retry_at=retry_at)
        return _finish(engine, job_id, "dead", now(), error=code)
    if report.failed:
        return _finish(engine, job_id, "dead", now(), error=f"REJECTED_{report.failed[0][1]}"[:120])
    return _finish(engine, job_id, "done", now())


@dataclass(frozen=True)
class _Claimed:
    target_system: str
    channel: str
    attempts: int
    email: str | None
    phone: str | None


def _claim(engine: Engine, job_id: int, now: datetime, lease: timedelta, max_attempts: int) -> _Claimed | None:
    table = propagation_jobs.c
    claimable = or_(
        table.status.in_(["pending", "failed"]),
        and_(table.status == "running", table.lease_until < now),
    )
    with engine.begin() as connection:
        _bury_abandoned(connection, now, max_attempts, table.id == job_id)
        claimed = connection.execute(
            update(propagation_jobs)
            .where(table.id == job_id)
            .where(claimable)
            .values(status="running", lease_until=now + lease, attempts=table.attempts + 1, updated_at=now)
            .returning(table.target_system, table.channel, table.attempts, table.person_id)
        ).first()
        if claimed is None:
            return None
        person = connection.execute(
            select(persons.c.email, persons.c.phone).where(persons.c.id == claimed.person_id)
        ).first()
    if person is None:
        return None
    return _Claimed(claimed.target_system, claimed.channel, claimed.attempts, person.email, person.phone)


def _finish(
    where: Engine | Connection, job_id: int, status: str, now: datetime, *, error=None, retry_at=None
) -> Outcome:
    values = {"status": status, "updated_at": now, "lease_until": None, "last_error": error}
    if status == "done":
        values["done_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    if isinstance(where, Connection):  # inside the caller's transaction: a batch finishes in one commit
        where.execute(update(propagation_jobs).where(propagation_jobs.c.id == job_id).values(**values))
    else:
        with where.begin() as connection:
            connection.execute(update(propagation_jobs).where(propagation_jobs.c.id == job_id).values(**values))
    return Outcome(job_id, status, retry_at)


def retry_dead(engine: Engine, *, now: datetime | None = None) -> int:
    """Replay every dead job from scratch (`consentry propagation retry`)."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        result = connection.execute(
            update(propagation_jobs)
            .where(propagation_jobs.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now, last_error=None)
        )
        return result.rowcount


def dead_jobs(engine: Engine) -> list[dict]:
    table = propagation_jobs.c
    query = select(
        table.id,
        table.event_key,
        table.source_system,
        table.target_system,
        table.channel,
        table.attempts,
        table.last_error,
        table.updated_at,
    ).where(table.status == "dead")
    with reading(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(query.order_by(table.id))]


BATCH = 100


def due_targets(engine: Engine, *, now: datetime | None = None) -> list[str]:
    """Target systems with due jobs: the sweep enqueues one batch task per target."""
    now = now or datetime.now(UTC)
    table = propagation_jobs.c
    due = or_(
        and_(table.status.in_(["pending", "failed"]), table.next_attempt_at <= now),
        and_(table.status == "running", table.lease_until < now),
    )
    with reading(engine) as connection:
        return list(connection.execute(select(table.target_system).where(due).distinct()).scalars())


def run_target(
    engine: Engine,
    connectors: Mapping[str, Connector],
    target: str,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
    limit: int = BATCH,
) -> list[Outcome]:
    """Apply up to `limit` due opt-outs to one system in one batch call: vendors' rate limits count calls."""
    table = propagation_jobs.c
    moment = now()
    due = or_(
        and_(table.status.in_(["pending", "failed"]), table.next_attempt_at <= moment),
        and_(table.status == "running", table.lease_until < moment),
    )
    with engine.begin() as connection:
        _bury_abandoned(connection, moment, max_attempts, table.target_system == target)
        ids = list(
            connection.execute(
                select(table.id).where(table.target_system == target).where(due).order_by(table.id).limit(limit)
            ).scalars()
        )
        if not ids:
            return []
        claimed = connection.execute(
            update(propagation_jobs)
            .where(table.id.in_(ids))
            .where(due)
            .values(status="running", lease_until=moment + lease, attempts=table.attempts + 1, updated_at=moment)
            .returning(table.id, table.channel, table.attempts, table.person_id)
        ).all()
        people = {
            row.id: (row.email, row.phone)
            for row in connection.execute(
                select(persons.c.id, persons.c.email, persons.c.phone).where(
                    persons.c.id.in_({c.person_id for c in claimed})
                )
            )
        }
    claimed = [c for c in claimed if c.person_id in people]
    connector = connectors.get(target)
    if connector is None:
        with engine.begin() as connection:
            return [_finish(connection, c.id, "dead", now(), error="TARGET_NOT_CONFIGURED") for c in claimed]
    items = [
        Unsubscribe(email=people[c.person_id][0], phone=people[c.person_id][1], channels=frozenset({c.channel}))
        for c in claimed
    ]
    try:
        report = connector.push_unsubscribes(items)
    except Exception as error:  # see `_failure`
        code, retryable = _failure(target, error)
        with engine.begin() as connection:
            return _failed_all(connection, claimed, code, retryable, now, max_attempts)
    with engine.begin() as connection:
        return _outcomes(connection, claimed, report, now, max_attempts)


def _bury_abandoned(connection: Connection, moment: datetime, max_attempts: int, *where) -> None:
    """A job whose lease ran out at its last attempt lost its worker that many times (a job that crashes the
    process, say): dead, for `consentry propagation failed` to show, rather than claimed again forever."""
    table = propagation_jobs.c
    connection.execute(
        update(propagation_jobs)
        .where(table.status == "running", table.lease_until < moment, table.attempts >= max_attempts, *where)
        .values(status="dead", lease_until=None, last_error="LEASE_EXPIRED", updated_at=moment)
    )


def _failure(target: str, error: Exception) -> tuple[str, bool]:
    """The code to record and whether to retry. Connectors fail with a ConnectorError; anything else is a bug in
    one, recorded and retried like a vendor failure so that the job ends failed or dead, never left running."""
    if isinstance(error, ConnectorError):
        return (error.code or "CONNECTOR_ERROR")[:120], error.retryable
    log.error("%s: the connector raised %s instead of a ConnectorError", target, type(error).__name__)
    return f"UNEXPECTED_{type(error).__name__}"[:120], True


def _failed_all(connection: Connection, claimed, code: str, retryable: bool, now, max_attempts: int) -> list[Outcome]:
    """The whole batch failed: retry what may be retried (with backoff), the rest is dead."""
    outcomes = []
    for job in claimed:
        if retryable and job.attempts < max_attempts:
            retry_at = now() + backoff(job.attempts)
            outcomes.append(_finish(connection, job.id, "failed", now(), error=code, retry_at=retry_at))
        else:
            outcomes.append(_finish(connection, job.id, "dead", now(), error=code))
    return outcomes


def _outcomes(connection: Connection, claimed, report, now, max_attempts: int) -> list[Outcome]:
    """Per job: rejected by the vendor (dead), unknown which failed (retry all, idempotent), or done."""
    rejected = {position: code for position, code in report.failed if position >= 0}
    unplaced = [code for position, code in report.failed if position < 0]
    outcomes = []
    for position, job in enumerate(claimed):
        if position in rejected:
            outcomes.append(_finish(connection, job.id, "dead", now(), error=f"REJECTED_{rejected[position]}"[:120]))
        elif unplaced and job.attempts < max_attempts:
            retry_at = now() + backoff(job.attempts)
            error = f"REJECTED_{unplaced[0]}"[:120]
            outcomes.append(_finish(connection, job.id, "failed", now(), error=error, retry_at=retry_at))
        elif unplaced:  # still refused at the last attempt: not done, for `consentry propagation failed` to show
            outcomes.append(_finish(connection, job.id, "dead", now(), error=f"REJECTED_{unplaced[0]}"[:120]))
        else:
            outcomes.append(_finish(connection, job.id, "done", now()))
    return outcomes
