"""Carrying out an erasure request's jobs: one system at a time, Consentry's own database last.

A job is claimed, leased and fenced like an opt-out's (propagation.py), one person per vendor call. It waits while
an opt-out of the same person to the same system is still on its way: that one is applied first, so that an
erasure that ends dead never drops an objection. Each deletion's record ids are kept (`erased_records`): the
vendor's deletion webhook that comes back for them is an echo, not a new erasure. Once every system is done,
Consentry's own job runs: the person goes, with the request's copy of the identifiers, and only the suppression
hashes stay.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, not_, select, update
from sqlalchemy.orm import aliased

from consentry.connectors.base import Capability, Connector, DataSubject
from consentry.sdk.erasure import erase_in, forget_freed_pages
from consentry.sdk.rights import LOCAL_SYSTEM
from consentry.sdk.store import (
    contacts,
    erased_records,
    insert_ignoring_duplicates,
    propagation_jobs,
    reading,
    rights_requests,
)
from consentry.sdk.suppression import SuppressionList

from .propagation import Outcome, _bury_abandoned, _Claimed, _due, _failed_all, _failure, _finish, _renewing
from .rights import release_local_erasure

log = logging.getLogger("consentry.rights")


class _Fenced(Exception):
    """Another worker claimed the job since: roll this one's work back."""


def run_erasure(
    engine: Engine,
    connectors: Mapping[str, Connector],
    target: str,
    suppression: SuppressionList | None,
    *,
    now: Callable[[], datetime],
    max_attempts: int,
    lease: timedelta,
) -> list[Outcome]:
    """Carry out one due erasure job in `target`; [] when none is due there."""
    claimed = _claim(engine, target, now(), max_attempts, lease)
    if claimed is None:
        return []
    job, request_id = claimed.job, claimed.request_id
    if target == LOCAL_SYSTEM:
        return [_erase_locally(engine, suppression, job, request_id, now)]
    connector = connectors.get(target)
    if connector is None or not connector.supports(Capability.ERASE_PEOPLE):
        missing = "TARGET_NOT_CONFIGURED" if connector is None else "ERASURE_NOT_SUPPORTED"
        with engine.begin() as connection:
            return [_finish(connection, job, "dead", now(), error=missing)]
    subject = _subject(engine, target, request_id, claimed.person_id)
    try:
        with _renewing(engine, [job], lease, now):
            report = connector.erase_person(subject)
    except Exception as error:  # see propagation._failure
        code, retryable = _failure(target, error)
        with engine.begin() as connection:
            return _failed_all(connection, [job], code, retryable, now, max_attempts)
    with engine.begin() as connection:
        outcome = _finish(connection, job, "done", now(), outcome=_described(report))
        if outcome.status == "done":
            if report.deleted:
                rows = [
                    {"system": target, "record_id": record_id, "request_id": request_id, "erased_at": now()}
                    for record_id in report.deleted
                ]
                connection.execute(insert_ignoring_duplicates(connection, erased_records), rows)
            release_local_erasure(connection, request_id, now())
    log.info("rights request %s: erased in %s (%s)", request_id, target, report.method)
    return [outcome]


def _described(report) -> str:
    described = report.method
    if report.forgotten:
        described += f", {report.forgotten} forgotten"
    if report.in_recycle_bin:
        described += f", {report.in_recycle_bin} in bin"
    return described[:40]


@dataclass(frozen=True)
class _ClaimedErasure:
    job: _Claimed
    request_id: int  # an erasure job always belongs to a rights request
    person_id: int | None  # the person the request named, when Consentry knew them


def _claim(
    engine: Engine, target: str, moment: datetime, max_attempts: int, lease: timedelta
) -> _ClaimedErasure | None:
    table = propagation_jobs.c
    earlier = aliased(propagation_jobs)
    opt_out_on_its_way = exists().where(
        earlier.c.person_id == table.person_id,
        earlier.c.target_system == table.target_system,
        earlier.c.action == "unsubscribe",
        earlier.c.status.in_(["pending", "failed", "running"]),
    )
    due = and_(
        table.target_system == target,
        table.action == "erase",
        _due(moment),
        not_(opt_out_on_its_way),
    )
    with engine.begin() as connection:
        _bury_abandoned(connection, moment, max_attempts, table.target_system == target, table.action == "erase")
        job_id = connection.execute(select(table.id).where(due).order_by(table.id).limit(1)).scalar()
        if job_id is None:
            return None
        row = connection.execute(
            update(propagation_jobs)
            .where(table.id == job_id, due)
            .values(status="running", lease_until=moment + lease, attempts=table.attempts + 1, updated_at=moment)
            .returning(table.id, table.channel, table.attempts, table.request_id, table.person_id)
        ).first()
    if row is None:  # another worker took it between the two statements
        return None
    job = _Claimed(row.id, row.channel, row.attempts, None, None, row.request_id)
    return _ClaimedErasure(job, row.request_id, row.person_id)


def _subject(engine: Engine, target: str, request_id: int, person_id: int | None) -> DataSubject:
    """Whom to erase there: the request's identifiers, and the records a sync tied to the person in `target`
    (found even where the address was changed since)."""
    with reading(engine) as connection:
        request = connection.execute(
            select(rights_requests.c.email, rights_requests.c.phone).where(rights_requests.c.id == request_id)
        ).one()
        record_ids: tuple[str, ...] = ()
        if person_id is not None:
            record_ids = tuple(
                connection.execute(
                    select(contacts.c.source_record_id)
                    .where(contacts.c.person_id == person_id, contacts.c.source_system == target)
                    .order_by(contacts.c.source_record_id)
                ).scalars()
            )
    return DataSubject(email=request.email, phone=request.phone, record_ids=record_ids)


def _erase_locally(engine: Engine, suppression, job: _Claimed, request_id: int, now) -> Outcome:
    """The person, their contacts and events go; so does the request's copy of the identifiers; the suppression
    hashes for every channel stay. One transaction: a worker killed here leaves the job to be claimed again."""
    if suppression is None:
        raise RuntimeError("Consentry's own erasure needs the suppression list")
    try:
        with engine.begin() as connection:
            request = connection.execute(
                select(rights_requests.c.email, rights_requests.c.phone).where(rights_requests.c.id == request_id)
            ).one()
            if request.email or request.phone:
                erase_in(connection, suppression, email=request.email, phone=request.phone, reason="rights_request")
            outcome = _finish(connection, job, "done", now(), outcome="erased")
            if outcome.status != "done":
                raise _Fenced
            connection.execute(
                update(rights_requests)
                .where(rights_requests.c.id == request_id)
                .values(email=None, phone=None, completed_at=now())
            )
    except _Fenced:
        return Outcome(job.id, "skipped")
    if not forget_freed_pages(engine, patience=2.0):
        log.warning(
            "rights request %s: erased; the database was busy, its log is truncated at the next erasure", request_id
        )
    log.info("rights request %s: erased in Consentry", request_id)
    return outcome
