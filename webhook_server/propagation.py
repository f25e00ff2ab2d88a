"""Applying opt-outs to the other systems: claim a job, push the unsubscribe, record the outcome.

Jobs live in the database, which is the queue as well as the audit trail (pending, running, done, failed, dead,
with timestamps). A job is claimed with a short lease that a heartbeat renews while its push runs, so the
jobs of a worker killed mid-push are due again within seconds, not a whole long lease later.

Why a job can never be applied twice in a way that matters: every vendor call has an overall deadline
(CALL_DEADLINE, set on the workers' transports), so a live worker's push ends and a trickling vendor cannot keep a
job running forever; a worker that stops renewing (killed, frozen) loses its lease, and the
worker that claims the job next bumps its attempt count, which fences the first one off: its outcome is not
recorded. The one overlap left, a frozen process that wakes mid-call after another worker pushed, sends the same
"opted out = true" twice, which is harmless since every push sets a state, never toggles one.

An erased person's opt-out still on its way carries its own identifiers (`held_email`, `held_phone`); they are
wiped as soon as the job is done.
"""

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update

from consentry.connectors.base import Connector, Unsubscribe
from consentry.sdk.erasure import forget_freed_pages
from consentry.sdk.errors import ConnectorError
from consentry.sdk.http import Transport
from consentry.sdk.store import persons, propagation_jobs, reading
from consentry.sdk.suppression import SuppressionList

from .rights import close_if_done
from .wakeups import announce

log = logging.getLogger("consentry.propagation")

CALL_DEADLINE = 20.0  # seconds a worker gives one vendor call, retries included, before it fails and is retried
LEASE = timedelta(seconds=5)  # renewed every third of it while the push runs: a dead worker's jobs wait this long
MAX_ATTEMPTS = 8


def bound_vendor_calls(connectors: Mapping[str, Connector], seconds: float = CALL_DEADLINE) -> None:
    """Give every transport the connectors hold this overall deadline per call. A sync from the command line keeps
    the transport's longer default, which may wait out a vendor's long Retry-After."""
    for connector in connectors.values():
        for transport in vars(connector).values():
            if isinstance(transport, Transport):
                transport.deadline = min(transport.deadline, seconds)


def backoff(attempt: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at 5 minutes."""
    return timedelta(seconds=min(2 ** (attempt - 1), 300))


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: str  # done, failed (retry at `retry_at`), dead, skipped (claimed elsewhere or finished)
    retry_at: datetime | None = None


def _finish(
    connection: Connection, job: "_Claimed", status: str, now: datetime, *, error=None, retry_at=None, outcome=None
):
    """Record a job's outcome, unless another worker claimed it since (its lease ran out): that one's counts."""
    values = {"status": status, "updated_at": now, "lease_until": None, "last_error": error, "outcome": outcome}
    if status == "done":
        values |= {"done_at": now, "held_email": None, "held_phone": None}  # an erased person's, no longer needed
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    table = propagation_jobs.c
    mine = and_(table.id == job.id, table.status == "running", table.attempts == job.attempts)
    if not connection.execute(update(propagation_jobs).where(mine).values(**values)).rowcount:
        return Outcome(job.id, "skipped")
    if status == "done" and job.request_id is not None:
        close_if_done(connection, job.request_id, now)
    return Outcome(job.id, status, retry_at)


def retry_dead(engine: Engine, *, now: datetime | None = None) -> int:
    """Replay every dead job from scratch (`consentry propagation retry`)."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        result = connection.execute(
            update(propagation_jobs)
            .where(propagation_jobs.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now, last_error=None)
            .returning(propagation_jobs.c.target_system)
        )
        targets = list(result.scalars())  # one per job
        announce(connection, targets)
        return len(targets)


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
    """Target systems with due jobs: a worker drains each of them."""
    table = propagation_jobs.c
    with reading(engine) as connection:
        return list(connection.execute(select(table.target_system).where(_due(now)).distinct()).scalars())


def _due(moment: datetime | None = None):
    """Jobs waiting for a first try or a retry whose time has come, and jobs whose worker stopped renewing them."""
    moment = moment or datetime.now(UTC)
    table = propagation_jobs.c
    return or_(
        and_(table.status.in_(["pending", "failed"]), table.next_attempt_at <= moment),
        and_(table.status == "running", table.lease_until < moment),
    )


def run_target(
    engine: Engine,
    connectors: Mapping[str, Connector],
    target: str,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
    limit: int = BATCH,
    suppression: SuppressionList | None = None,
) -> list[Outcome]:
    """Apply up to `limit` due opt-outs to one system in one batch call: vendors' rate limits count calls. With
    none due, carry out one due erasure there (erasing.py) instead; `suppression` serves Consentry's own."""
    table = propagation_jobs.c
    claimable = and_(table.target_system == target, table.action == "unsubscribe", _due(now()))
    outcomes = _run(engine, connectors, target, claimable, now, max_attempts, lease, limit)
    if outcomes:
        return outcomes
    from .erasing import run_erasure  # it builds on this module's claims and outcomes

    return run_erasure(engine, connectors, target, suppression, now=now, max_attempts=max_attempts, lease=lease)


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    attempts: int  # after this claim: the fencing token of this worker's hold on the job
    email: str | None
    phone: str | None
    request_id: int | None = None  # a rights request's job: the request closes when its last job is done


def _run(engine, connectors, target, claimable, now, max_attempts: int, lease: timedelta, limit: int) -> list[Outcome]:
    moment = now()
    table = propagation_jobs.c
    with engine.begin() as connection:
        _bury_abandoned(connection, moment, max_attempts, table.target_system == target)
        ids = list(connection.execute(select(table.id).where(claimable).order_by(table.id).limit(limit)).scalars())
        if not ids:
            return []
        rows = connection.execute(
            update(propagation_jobs)
            .where(table.id.in_(ids))
            .where(claimable)
            .values(status="running", lease_until=moment + lease, attempts=table.attempts + 1, updated_at=moment)
            .returning(
                table.id,
                table.channel,
                table.attempts,
                table.person_id,
                table.held_email,
                table.held_phone,
                table.request_id,
            )
        ).all()
        claimed, nobody = _identified(connection, rows)
        outcomes = [_finish(connection, job, "dead", moment, error="PERSON_ERASED") for job in nobody]
        claimed, outcomes = _not_after_erasure(connection, target, claimed, rows, outcomes, moment)
    connector = connectors.get(target)
    if connector is None:
        with engine.begin() as connection:
            return outcomes + [
                _finish(connection, job, "dead", now(), error="TARGET_NOT_CONFIGURED") for job in claimed
            ]
    if not claimed:
        return outcomes
    items = [Unsubscribe(email=job.email, phone=job.phone, channels=frozenset({job.channel})) for job in claimed]
    try:
        with _renewing(engine, claimed, lease, now):
            report = connector.push_unsubscribes(items)
    except Exception as error:  # see `_failure`
        code, retryable = _failure(target, error)
        with engine.begin() as connection:
            return outcomes + _failed_all(connection, claimed, code, retryable, now, max_attempts)
    with engine.begin() as connection:
        outcomes += _outcomes(connection, claimed, report, now, max_attempts, connector.transient_codes)
    if any(row.held_email or row.held_phone for row in rows):
        forget_freed_pages(engine, patience=0)  # the held identifiers just wiped: out of SQLite's log too, if idle
    return outcomes


def _identified(connection: Connection, rows) -> tuple[list[_Claimed], list[_Claimed]]:
    """The claimed jobs with the identifiers to push (the person's, or those held past an erasure), and those
    with none left to push to: an erasure that predates holding them."""
    people = {
        row.id: (row.email, row.phone)
        for row in connection.execute(
            select(persons.c.id, persons.c.email, persons.c.phone).where(
                persons.c.id.in_({row.person_id for row in rows if row.person_id is not None})
            )
        )
    }
    claimed: list[_Claimed] = []
    nobody: list[_Claimed] = []
    # in the order of their rights requests: finishing a job locks its request's row (rights.close_if_done), and
    # two workers locking two requests in opposite orders would deadlock on PostgreSQL
    for row in sorted(rows, key=lambda row: (row.request_id or 0, row.id)):
        email, phone = people.get(row.person_id, (row.held_email, row.held_phone))
        job = _Claimed(row.id, row.channel, row.attempts, email, phone, row.request_id)
        (claimed if email or phone else nobody).append(job)
    return claimed, nobody


def _not_after_erasure(connection: Connection, target: str, claimed, rows, outcomes, moment):
    """An opt-out for someone the target has erased is not pushed: pushing it could bring the person back there
    (Mailchimp adds an unknown address as unsubscribed), and the suppression hashes guard them already."""
    people = {row.id: row.person_id for row in rows}
    table = propagation_jobs.c
    erased = set(
        connection.execute(
            select(table.person_id).where(
                table.target_system == target,
                table.action == "erase",
                table.status == "done",
                table.person_id.in_({person for person in people.values() if person is not None}),
            )
        ).scalars()
    )
    if not erased:
        return claimed, outcomes
    kept = []
    for job in claimed:
        if people[job.id] in erased:
            outcomes.append(_finish(connection, job, "done", moment, outcome="erased_in_target"))
        else:
            kept.append(job)
    return kept, outcomes


@contextmanager
def _renewing(engine: Engine, claimed: Sequence[_Claimed], lease: timedelta, now) -> Iterator[None]:
    """Renew the jobs' lease every third of it while their push runs: a short lease then suffices, so a killed
    worker's jobs are due again within seconds. A renewal that fails (the database is away) is tried again; should
    the lease run out meanwhile, another worker may push too, which is harmless (see the module's docstring)."""
    stop = threading.Event()
    table = propagation_jobs.c
    statement = (
        update(propagation_jobs)
        .where(table.id == bindparam("job_id"), table.status == "running", table.attempts == bindparam("attempt"))
        .values(lease_until=bindparam("until"))
    )

    def renew() -> None:
        warned = False
        while not stop.wait(lease.total_seconds() / 3):
            until = now() + lease
            try:
                with engine.begin() as connection:
                    connection.execute(
                        statement, [{"job_id": job.id, "attempt": job.attempts, "until": until} for job in claimed]
                    )
            except Exception as error:  # the next beat tries again; one line per push, not one per beat
                if not warned:
                    log.warning("could not renew the lease of %s jobs: %s", len(claimed), type(error).__name__)
                warned = True

    heartbeat = threading.Thread(target=renew, name="lease-heartbeat", daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        stop.set()
        heartbeat.join()


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
    return [_failed(connection, job, code, retryable, now, max_attempts) for job in claimed]


def _outcomes(
    connection: Connection, claimed, report, now, max_attempts: int, transient: frozenset[str]
) -> list[Outcome]:
    """Per job: rejected by the vendor (dead, or retried while the refusal is one a later attempt may clear, such
    as a locked row), unknown which failed (retry all, idempotent), or done."""
    rejected = {position: code for position, code in report.failed if position >= 0}
    unplaced = [code for position, code in report.failed if position < 0]
    outcomes = []
    for position, job in enumerate(claimed):
        if position in rejected:
            code = rejected[position]
            outcomes.append(_failed(connection, job, f"REJECTED_{code}", code in transient, now, max_attempts))
        elif unplaced:  # which one failed is unknown: all retried (idempotent); dead after the last attempt
            outcomes.append(_failed(connection, job, f"REJECTED_{unplaced[0]}", True, now, max_attempts))
        else:
            outcomes.append(_finish(connection, job, "done", now()))
    return outcomes


def _failed(connection: Connection, job, error: str, retryable: bool, now, max_attempts: int) -> Outcome:
    """Failed, to be tried again after a backoff while it may be and attempts remain; dead otherwise."""
    error = error[:120]
    if retryable and job.attempts < max_attempts:
        return _finish(connection, job, "failed", now(), error=error, retry_at=now() + backoff(job.attempts))
    return _finish(connection, job, "dead", now(), error=error)
