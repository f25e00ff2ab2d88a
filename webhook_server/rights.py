"""Rights requests carried out in every connected system: recorded with their due date, then worked through the
job table like opt-outs (one job per system, retried, dead after its attempts, re-playable).

- An erasure is a job per connected system (action "erase") and one for Consentry's own database, which waits
  until every other one is done: the identifiers it needs stay in the request until then, and go with the person.
- An objection is an opt-out for every channel recorded in the ledger, propagated like any other; its jobs carry
  the request's key.
- An access request is answered by an export (rights_export.py), which records each system's status.

A system's status is its job's: done; failed when the job is dead; open otherwise.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, exists, func, select, update

from consentry.connectors.base import InboundEvent
from consentry.sdk.consent_state import ALL_CHANNELS, EventKind
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.persons import find_person, identifiers
from consentry.sdk.rights import (
    DEFAULT_ZONE,
    GDPR_APPLIES_FROM,
    LOCAL_SYSTEM,
    RightsKind,
    RightsStatus,
    due_date,
    extended,
    received,
)
from consentry.sdk.services import Services
from consentry.sdk.store import propagation_jobs, reading, rights_requests

from .wakeups import announce

_LEEWAY = timedelta(minutes=5)  # clocks differ a little between machines
_VERIFIED_BY_LENGTH = 200
_REASON_LENGTH = 2000


@dataclass(frozen=True)
class Opened:
    id: int
    due: date


def open_request(
    services: Services,
    targets: Sequence[str],
    kind: RightsKind,
    *,
    email: str | None = None,
    phone: str | None = None,
    received_at: datetime | None = None,
    verified_by: str | None = None,
    source: str = "cli",
    advertiser: str = "default",
    now: datetime | None = None,
) -> Opened:
    """Record a request and its jobs in one transaction: a refused request records nothing."""
    with services.engine.begin() as connection:
        return open_request_in(
            connection,
            services,
            targets,
            kind,
            email=email,
            phone=phone,
            received_at=received_at,
            verified_by=verified_by,
            source=source,
            advertiser=advertiser,
            now=now,
        )


def open_request_in(
    connection: Connection,
    services: Services,
    targets: Sequence[str],
    kind: RightsKind,
    *,
    email: str | None,
    phone: str | None,
    received_at: datetime | None,
    verified_by: str | None,
    source: str,
    advertiser: str,
    now: datetime | None = None,
) -> Opened:
    """Inside the caller's transaction (the webhook inbox's, for an erasure made in a CRM). `targets`: the
    connected systems."""
    now = now or datetime.now(UTC)
    email, phone = identifiers(email, phone)
    moment, zone = received(received_at, now=now)
    if moment > now.astimezone(UTC) + _LEEWAY:
        raise InvalidInputError("a request cannot be received in the future", field="received_at")
    if moment < GDPR_APPLIES_FROM:
        raise InvalidInputError(
            "a request is received on or after 25 May 2018, when the GDPR applies", field="received_at"
        )
    if verified_by is not None and not 0 < len(verified_by.strip()) <= _VERIFIED_BY_LENGTH:
        raise InvalidInputError(
            f"how identity was verified is told in 1 to {_VERIFIED_BY_LENGTH} characters", field="verified_by"
        )
    due = due_date(moment)
    request_id = connection.execute(
        rights_requests.insert()
        .values(
            kind=kind.value,
            received_at=moment.astimezone(UTC),
            received_zone=zone,
            due_on=due,
            verified_by=verified_by.strip() if verified_by else None,
            source=source,
            email=email,
            phone=phone,
            created_at=now,
        )
        .returning(rights_requests.c.id)
    ).scalar_one()
    if kind is RightsKind.ERASURE:
        _erasure_jobs(connection, targets, request_id, find_person(connection, email, phone), now)
    elif kind is RightsKind.OBJECTION:
        _objection(connection, services, targets, request_id, email, phone, advertiser, now)
        close_if_done(connection, request_id, now)  # done at once when no other system is connected
    return Opened(request_id, due)


_KEY_PREFIX = "rights:"


def request_key(request_id: int) -> str:
    """The event key of a request's jobs (and of an objection's ledger event)."""
    return f"{_KEY_PREFIX}{request_id}"


def request_id_of(key: str) -> int:
    """The request a key names (`request_key`'s inverse)."""
    return int(key.removeprefix(_KEY_PREFIX))


def _erasure_jobs(connection, targets, request_id: int, person_id, now: datetime) -> None:
    jobs = []
    for target in [*sorted(set(targets) - {LOCAL_SYSTEM}), LOCAL_SYSTEM]:
        jobs.append(
            {
                "event_key": request_key(request_id),
                "person_id": person_id,
                "source_system": "rights",
                "target_system": target,
                "channel": ALL_CHANNELS,
                "action": "erase",
                "request_id": request_id,
                "status": "waiting" if target == LOCAL_SYSTEM else "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "received_at": now,
                "updated_at": now,
            }
        )
    connection.execute(propagation_jobs.insert(), jobs)
    announce(connection, [job["target_system"] for job in jobs[:-1]])
    release_local_erasure(connection, request_id, now)  # at once when no other system is connected


def release_local_erasure(connection: Connection, request_id: int, now: datetime) -> bool:
    """Once every other system's erasure is done, Consentry's own may run."""
    _lock(connection, request_id)
    table = propagation_jobs.c
    waiting_on = connection.execute(
        select(func.count()).where(
            table.request_id == request_id, table.target_system != LOCAL_SYSTEM, table.status != "done"
        )
    ).scalar_one()
    if waiting_on:
        return False
    released = connection.execute(
        update(propagation_jobs)
        .where(table.request_id == request_id, table.target_system == LOCAL_SYSTEM, table.status == "waiting")
        .values(status="pending", next_attempt_at=now, updated_at=now)
    ).rowcount
    if released:
        announce(connection, [LOCAL_SYSTEM])
    return bool(released)


def _objection(connection, services, targets, request_id, email, phone, advertiser, now) -> None:
    """The existing opt-out path: an objection to every channel in the ledger, pushed to every system."""
    from .inbox import Delivery, record  # the inbox opens erasure requests too: imported when used

    event = InboundEvent(
        event_key=request_key(request_id),
        kind=EventKind.OBJECTED,
        channel=ALL_CHANNELS,
        occurred_at=now,
        system=LOCAL_SYSTEM,
        email=email,
        phone=phone,
        origin="rights_request",
    )
    delivery = Delivery([event], sorted(targets))
    record(connection, services, [delivery], advertiser=advertiser, now=now)
    if delivery.result.skipped:  # an erased person: the suppression list already holds every channel
        return
    table = propagation_jobs.c
    connection.execute(
        update(propagation_jobs).where(table.event_key == request_key(request_id)).values(request_id=request_id)
    )


def close_if_done(connection: Connection, request_id: int, now: datetime) -> None:
    """Close an erasure or objection request once every one of its jobs is done (one with none, at once): from
    then on, counting the open requests no longer reads it. An access request closes with its export."""
    _lock(connection, request_id)
    requests, table = rights_requests.c, propagation_jobs.c
    unfinished = exists().where(table.request_id == request_id, table.status != "done")
    connection.execute(
        update(rights_requests)
        .where(requests.id == request_id, requests.closed_at.is_(None), requests.kind != RightsKind.ACCESS.value)
        .where(~unfinished)
        .values(closed_at=now)
    )


def _lock(connection: Connection, request_id: int) -> None:
    """Hold the request's row until the transaction ends, before reading its other jobs. Two workers that finish
    its last two jobs at once would otherwise each see the other's still running (on PostgreSQL, which reads what
    was committed), and neither would release Consentry's erasure or close the request. On SQLite, whose writers
    take turns, there is no row lock and no need of one."""
    connection.execute(select(rights_requests.c.id).where(rights_requests.c.id == request_id).with_for_update())


# -- reading --------------------------------------------------------------------------------------------------------


def extend(engine: Engine, request_id: int, reason: str, *, now: datetime | None = None) -> date:
    """Move the due date two months further, once (Art. 12(3)); the reason is what the person is told."""
    reason = (reason or "").strip()
    if not 0 < len(reason) <= _REASON_LENGTH:
        raise InvalidInputError(f"a reason of 1 to {_REASON_LENGTH} characters is required", field="reason")
    with engine.begin() as connection:
        row = connection.execute(
            select(rights_requests.c.due_on, rights_requests.c.extended_at).where(rights_requests.c.id == request_id)
        ).first()
        if row is None:
            raise InvalidInputError(f"no rights request {request_id}", field="id")
        if row.extended_at is not None:
            raise InvalidInputError(f"request {request_id} was extended already; it can be once", field="id")
        due = extended(row.due_on)
        connection.execute(
            update(rights_requests)
            .where(rights_requests.c.id == request_id)
            .values(due_on=due, extended_at=now or datetime.now(UTC), extension_reason=reason)
        )
    return due


def access_request(engine: Engine, request_id: int) -> Any:
    """An access request's row, identifiers included, for its export; any other request is refused."""
    with reading(engine) as connection:
        request = connection.execute(select(rights_requests).where(rights_requests.c.id == request_id)).first()
    if request is None:
        raise InvalidInputError(f"no rights request {request_id}", field="id")
    if request.kind != RightsKind.ACCESS.value:
        raise InvalidInputError(
            f"request {request_id} is an {request.kind} request; only an access request is exported", field="id"
        )
    return request


def record_export(engine: Engine, request_id: int, statuses: Mapping[str, str]) -> None:
    """Each system's part of an access request's export, "done" or "failed": the request is answered when all
    are done (`show`)."""
    answered = all(status == RightsStatus.DONE.value for status in statuses.values())
    with engine.begin() as connection:
        connection.execute(
            update(rights_requests)
            .where(rights_requests.c.id == request_id)
            .values(exported=json.dumps(statuses), closed_at=datetime.now(UTC) if answered else None)
        )


def show(engine: Engine, request_id: int, *, today: date | None = None) -> dict[str, Any]:
    """{"id", "kind", "status", "due", "systems": {name: status}} and the request's dates; no identifier."""
    found = list_requests(engine, ids=[request_id], today=today)
    if not found:
        raise InvalidInputError(f"no rights request {request_id}", field="id")
    return found[0]


def list_requests(
    engine: Engine,
    *,
    overdue: bool = False,
    status: RightsStatus | None = None,
    ids: Sequence[int] | None = None,
    today: date | None = None,
    not_done: bool = False,
) -> list[dict[str, Any]]:
    """The requests, overdue first then by due date; `overdue`: not done and past their due date; `not_done`:
    open or failed. Asked for requests not done, it reads only those not closed: a closed request is done."""
    today = today or datetime.now(ZoneInfo(DEFAULT_ZONE)).date()
    query = select(rights_requests).order_by(rights_requests.c.due_on, rights_requests.c.id)
    if ids is not None:
        query = query.where(rights_requests.c.id.in_(list(ids)))
    not_done = not_done or overdue or status in (RightsStatus.OPEN, RightsStatus.FAILED)
    if not_done:
        query = query.where(rights_requests.c.closed_at.is_(None))
    with reading(engine) as connection:
        rows = connection.execute(query).all()
        jobs = _jobs_by_request(connection, [row.id for row in rows])
    answers = []
    for row in rows:
        systems = _systems(row, jobs.get(row.id, {}))
        state = _status(systems)
        due = row.due_on
        late = state is not RightsStatus.DONE and due < today
        if (overdue and not late) or (status is not None and state is not status):
            continue
        if not_done and state is RightsStatus.DONE:
            continue
        answers.append(
            {
                "id": row.id,
                "kind": row.kind,
                "status": state.value,
                "due": due.isoformat(),
                "overdue": late,
                "systems": {name: value.value for name, value in sorted(systems.items())},
                # what each system's job did (hard_delete, recycle_bin ...) or its last error; a job's status
                # alone cannot tell a Recycle Bin from a hard delete
                "details": {
                    name: job.outcome or job.last_error
                    for name, job in sorted(jobs.get(row.id, {}).items())
                    if job.outcome or job.last_error
                },
                "received_at": row.received_at.isoformat(),
                "extended": row.extended_at is not None,
                "verified_by": row.verified_by,
                "source": row.source,
            }
        )
    answers.sort(key=lambda answer: not answer["overdue"])  # stable: overdue first, each by due date
    return answers


def _jobs_by_request(connection: Connection, request_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per request, per system: its job's row (status, what it did there, its last error)."""
    table = propagation_jobs.c
    found: dict[int, dict[str, Any]] = {}
    if not request_ids:
        return found
    rows = connection.execute(
        select(table.request_id, table.target_system, table.status, table.outcome, table.last_error).where(
            table.request_id.in_(request_ids)
        )
    )
    for row in rows:
        found.setdefault(row.request_id, {})[row.target_system] = row
    return found


def _systems(row: Any, jobs: Mapping[str, Any]) -> dict[str, RightsStatus]:
    if row.kind == RightsKind.ACCESS.value:
        if not row.exported:  # not exported yet: Consentry's own part is still to do, whatever else is connected
            return {LOCAL_SYSTEM: RightsStatus.OPEN}
        return {name: RightsStatus(value) for name, value in json.loads(row.exported).items()}
    return {target: _job_status(job.status) for target, job in jobs.items()}


def _job_status(job_status: str) -> RightsStatus:
    if job_status == "done":
        return RightsStatus.DONE
    return RightsStatus.FAILED if job_status == "dead" else RightsStatus.OPEN


def _status(systems: Mapping[str, RightsStatus]) -> RightsStatus:
    """Failed as soon as one system failed; done when every one is (an objection with no other system
    connected is done once the ledger holds it); open otherwise. An access request without an export is open."""
    values = set(systems.values())
    if RightsStatus.FAILED in values:
        return RightsStatus.FAILED
    return RightsStatus.OPEN if RightsStatus.OPEN in values else RightsStatus.DONE


def counts(engine: Engine, *, today: date | None = None) -> dict[str, int]:
    """For /metrics: requests not done, and those of them past their due date."""
    pending = list_requests(engine, today=today, not_done=True)
    return {"open": len(pending), "overdue": sum(answer["overdue"] for answer in pending)}
