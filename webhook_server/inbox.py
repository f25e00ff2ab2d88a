"""The durable inbox: verified events and their propagation jobs are committed together, before any 2xx.

Each new opt-out becomes a ledger event (and a suppression entry) plus one job per other connected system. A
duplicate delivery finds its event key already recorded and changes nothing. A change Consentry itself wrote into
a system comes back from it as a webhook: it is recognised (a recent job targeted that system for the same person
and channel) and fans out no further.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from connectors.base import InboundEvent
from sdk.consent_state import ConsentEvent
from sdk.errors import InvalidInputError
from sdk.persons import identifiers
from sdk.services import Services
from sdk.store import contacts, insert_ignoring_duplicates, persons, propagation_jobs


@dataclass
class IngestResult:
    new_events: int = 0
    duplicates: int = 0
    echoes: int = 0
    skipped: int = 0
    job_ids: list[int] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)


def ingest(
    services: Services,
    events: Sequence[InboundEvent],
    *,
    targets: Sequence[str],
    advertiser: str,
    echo_window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> IngestResult:
    now = now or datetime.now(UTC)
    result = IngestResult()
    prepared = []
    for event in events:
        email, phone = event.email, event.phone
        if not email and not phone and event.record_id:
            email, phone = _known_identity(services, event.system, event.record_id)
        try:
            prepared.append((_consent_event(event, advertiser, now), *identifiers(email, phone)))
        except InvalidInputError:
            result.skipped += 1  # nothing to recognise the person by: acknowledged, recorded nowhere
    with services.engine.begin() as connection:
        for recorded in services.ledger.append_in(connection, prepared):
            if not recorded.is_new:
                result.duplicates += 1
                continue
            result.new_events += 1
            event = recorded.event
            if not event.kind.opts_out:
                continue
            if _is_echo(connection, recorded.person_id, event, now - echo_window):
                result.echoes += 1
                continue
            for target in targets:
                if target == event.source_system:
                    continue
                statement = insert_ignoring_duplicates(connection, propagation_jobs).values(
                    event_key=event.event_key,
                    person_id=recorded.person_id,
                    source_system=event.source_system,
                    target_system=target,
                    channel=event.channel,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    received_at=now,
                    updated_at=now,
                )
                job_id = connection.execute(statement.returning(propagation_jobs.c.id)).scalar()
                if job_id is not None:
                    result.job_ids.append(job_id)
                    result.targets.add(target)
    return result


def _known_identity(services: Services, system: str, record_id: str) -> tuple[str | None, str | None]:
    """The identifiers of a contact synced before, by its id in the system that reports it."""
    query = (
        select(persons.c.email, persons.c.phone)
        .join(contacts, contacts.c.person_id == persons.c.id)
        .where(contacts.c.source_system == system, contacts.c.source_record_id == record_id)
    )
    with services.engine.connect() as connection:
        row = connection.execute(query).first()
    return (row.email, row.phone) if row else (None, None)


def _consent_event(event: InboundEvent, advertiser: str, now: datetime) -> ConsentEvent:
    return ConsentEvent(
        event_key=event.event_key,
        kind=event.kind,
        channel=event.channel,
        occurred_at=event.occurred_at,
        recorded_at=now,
        source_system=event.system,
        advertiser=advertiser,
        source_record_id=event.record_id,
        method=None if event.kind.opts_out else "imported",
    )


def _is_echo(connection, person_id: int, event: ConsentEvent, since: datetime) -> bool:
    """Did Consentry itself push this opt-out into the system that now reports it?"""
    query = (
        select(propagation_jobs.c.id)
        .where(propagation_jobs.c.person_id == person_id)
        .where(propagation_jobs.c.target_system == event.source_system)
        .where(propagation_jobs.c.channel.in_([event.channel, "all"]))
        .where(propagation_jobs.c.updated_at >= since)
        .limit(1)
    )
    return connection.execute(query).first() is not None
