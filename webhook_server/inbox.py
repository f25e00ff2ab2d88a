"""The durable inbox: verified events and their propagation jobs are committed together, before any 2xx.

Each new opt-out becomes a ledger event (and a suppression entry) plus one job per other connected system. A
duplicate delivery finds its event key already recorded and changes nothing. A change Consentry itself wrote into
a system comes back from it as a webhook: it is recognised (a recent job targeted that system for the same person
and channel) and fans out no further.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select

from consentry.connectors.base import InboundEvent
from consentry.sdk.consent_state import ConsentEvent
from consentry.sdk.erasure import erased_strangers
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.persons import identifiers
from consentry.sdk.rights import RightsKind
from consentry.sdk.services import Services
from consentry.sdk.store import contacts, erased_records, insert_ignoring_duplicates, persons, propagation_jobs
from consentry.sdk.store.engine import reading, write_lock

from .commit_group import CommitGroup
from .wakeups import announce


@dataclass
class IngestResult:
    new_events: int = 0
    duplicates: int = 0
    echoes: int = 0
    skipped: int = 0
    job_ids: list[int] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)


@dataclass
class Delivery:
    """One request's verified events, and the systems its opt-outs must reach."""

    events: Sequence[InboundEvent]
    targets: Sequence[str]
    result: IngestResult = field(default_factory=IngestResult)


def ingest(
    services: Services,
    events: Sequence[InboundEvent],
    *,
    targets: Sequence[str],
    advertiser: str,
    echo_window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    group=None,
) -> IngestResult:
    """Commit these events and their jobs, in a transaction of their own or, given a commit group, in the group's
    next shared transaction; either way nothing is acknowledged before the commit."""
    delivery = Delivery(events, targets)
    if group is not None:
        group.submit(delivery)
        return delivery.result
    with services.engine.begin() as connection:
        record(connection, services, [delivery], advertiser=advertiser, echo_window=echo_window, now=now)
    return delivery.result


def record(
    connection,
    services: Services,
    deliveries: Sequence[Delivery],
    *,
    advertiser: str,
    echo_window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> None:
    """Inside the caller's transaction: the deliveries' ledger events (with their suppression entries) and one
    job per opt-out and other system, in a few statements for the whole batch."""
    now = now or datetime.now(UTC)
    for delivery in deliveries:
        delivery.result = IngestResult()  # a group that failed is recorded again, one delivery at a time
    identities = _known_identities(connection, [event for d in deliveries for event in d.events])
    prepared, owners, sources = [], [], []
    for delivery in deliveries:
        for event in delivery.events:
            if event.erasure:
                _erased_in_vendor(connection, services, delivery, event, identities, advertiser, now)
                continue
            email, phone = _identifiers_of(event, identities)
            try:
                prepared.append((_consent_event(event, advertiser, now), *identifiers(email, phone)))
            except InvalidInputError:
                delivery.result.skipped += 1  # nothing to recognise the person by: acknowledged, recorded nowhere
                continue
            owners.append(delivery)
            sources.append(event)
    prepared, owners, sources = _without_erased(connection, services, prepared, owners, sources)
    recorded = services.ledger.append_in(connection, prepared)
    opt_outs = []
    for delivery, item, source in zip(owners, recorded, sources, strict=True):
        if not item.is_new:
            delivery.result.duplicates += 1
            continue
        delivery.result.new_events += 1
        if item.event.kind.opts_out:
            opt_outs.append((delivery, item, source))
    known_before = {item.person_id for _, item, _ in opt_outs if not item.new_person}  # no job targeted the others
    echoes = _recent_pushes(connection, known_before, now - echo_window)
    jobs, job_owners = [], []
    for delivery, item, source in opt_outs:
        consent = item.event  # the ledger's event; `source` is the vendor's InboundEvent it was made from
        written = {consent.channel, "all", *source.shared_with}  # the pushes that would come back as this event
        if {(item.person_id, consent.source_system, channel) for channel in written} & echoes:
            delivery.result.echoes += 1
            continue
        for target in delivery.targets:
            if target == consent.source_system:
                continue
            jobs.append(
                {
                    "event_key": consent.event_key,
                    "person_id": item.person_id,
                    "source_system": consent.source_system,
                    "target_system": target,
                    "channel": consent.channel,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "received_at": now,
                    "updated_at": now,
                }
            )
            job_owners.append(delivery)
    if not jobs:
        return
    statement = insert_ignoring_duplicates(connection, propagation_jobs).returning(
        propagation_jobs.c.id, propagation_jobs.c.event_key, propagation_jobs.c.target_system
    )
    created = {(row.event_key, row.target_system): row.id for row in connection.execute(statement, jobs)}
    for job, delivery in zip(jobs, job_owners, strict=True):
        job_id = created.pop((job["event_key"], job["target_system"]), None)
        if job_id is not None:
            delivery.result.job_ids.append(job_id)
            delivery.result.targets.add(job["target_system"])
    announce(connection, {job["target_system"] for job in jobs})


def _erased_in_vendor(
    connection, services: Services, delivery: Delivery, event: InboundEvent, identities, advertiser, now
):
    """A person erased inside a vendor (HubSpot's privacy deletion, a Salesforce Individual to forget) is erased
    everywhere: an erasure request, whose job in that vendor removes what is left there (a Salesforce Individual
    marked to be forgotten keeps its Contacts until someone deletes them; HubSpot's finds nothing). The vendor's
    deletion of a record Consentry erased itself comes back too: an echo, as is a second delivery of the same
    webhook (its record is kept)."""
    from .rights import open_request_in  # rights requests build on this module: imported when used

    if event.record_id and _erasing_already(connection, event.system, event.record_id):
        delivery.result.echoes += 1
        return
    email, phone = _identifiers_of(event, identities)
    if not email and not phone:  # a record Consentry never synced: it holds nothing of theirs to erase
        delivery.result.skipped += 1
        return
    opened = open_request_in(
        connection,
        services,
        [*delivery.targets, event.system],  # the targets are the systems other than the one that sent it
        RightsKind.ERASURE,
        email=email,
        phone=phone,
        received_at=now,
        verified_by=f"erased in {event.system}",
        source=event.system,
        advertiser=advertiser,
        now=now,
    )
    if event.record_id:
        connection.execute(
            insert_ignoring_duplicates(connection, erased_records).values(
                system=event.system, record_id=event.record_id, request_id=opened.id, erased_at=now
            )
        )
    delivery.result.new_events += 1


def _identifiers_of(event: InboundEvent, identities) -> tuple:
    """The event's own identifiers, or those of the synced record it names by id only."""
    if event.email or event.phone or not event.record_id:
        return event.email, event.phone
    return identities.get((event.system, event.record_id), (None, None))


def _erasing_already(connection, system: str, record_id: str) -> bool:
    """Whether Consentry erased this record, or is erasing its person there: the vendor's webhook may arrive
    between its answer to the deletion and the commit that records the deleted ids."""
    table = erased_records.c
    if connection.execute(select(table.id).where(table.system == system, table.record_id == record_id)).first():
        return True
    jobs = propagation_jobs.c
    under_way = (
        select(jobs.id)
        .join(contacts, contacts.c.person_id == jobs.person_id)
        .where(contacts.c.source_system == system, contacts.c.source_record_id == record_id)
        .where(jobs.action == "erase", jobs.target_system == system, jobs.status != "dead")
    )
    return connection.execute(under_way.limit(1)).first() is not None


def _without_erased(connection, services: Services, prepared: list, owners: list, sources: list):
    """Events naming an erased person are acknowledged and recorded nowhere: recording them would store the erased
    identifiers in clear again, and the suppression list already holds the person for every channel."""
    if not prepared:
        return prepared, owners, sources
    erased = erased_strangers(connection, services.suppression, [(email, phone) for _, email, phone in prepared])
    for owner, gone in zip(owners, erased, strict=True):
        owner.result.skipped += gone
    kept = [not gone for gone in erased]
    return [[item for item, keep in zip(items, kept, strict=True) if keep] for items in (prepared, owners, sources)]


def synced_records(services: Services, events: Sequence[InboundEvent]) -> set[str]:
    """The record ids among these events' that a sync has already tied to a person (no need to ask the vendor)."""
    with reading(services.engine) as connection:
        return {record_id for _, record_id in _known_identities(connection, events)}


def _known_identities(connection, events: Sequence[InboundEvent]) -> dict[tuple[str, str], tuple]:
    """The identifiers of contacts synced before, by their ids in the systems that report them."""
    wanted = {(e.system, e.record_id) for e in events if not e.email and not e.phone and e.record_id}
    found = {}
    for system in {system for system, _ in wanted}:
        record_ids = sorted(record_id for s, record_id in wanted if s == system)
        query = (
            select(contacts.c.source_record_id, persons.c.email, persons.c.phone)
            .join(persons, contacts.c.person_id == persons.c.id)
            .where(contacts.c.source_system == system, contacts.c.source_record_id.in_(record_ids))
        )
        for row in connection.execute(query):
            found[(system, row.source_record_id)] = (row.email, row.phone)
    return found


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


def _recent_pushes(connection, person_ids: set[int], since: datetime) -> set[tuple[int, str, str]]:
    """(person, target system, channel) of the jobs Consentry ran lately: an opt-out a system reports back for
    one of them is the echo of Consentry's own write, and fans out no further."""
    if not person_ids:
        return set()
    return {tuple(row) for row in connection.execute(_RECENT_PUSHES, {"ids": sorted(person_ids), "since": since})}


# Built once (the hot path): building a statement costs more than running it.
_RECENT_PUSHES = (
    select(propagation_jobs.c.person_id, propagation_jobs.c.target_system, propagation_jobs.c.channel)
    .where(propagation_jobs.c.person_id.in_(bindparam("ids", expanding=True)))
    .where(propagation_jobs.c.updated_at >= bindparam("since"))
)


def commit_group(runtime) -> CommitGroup:
    """The web process's group commit: the deliveries that arrive together are recorded in one transaction."""

    def record_together(deliveries: Sequence[Delivery]) -> None:
        with write_lock(runtime.services.engine), runtime.services.engine.begin() as connection:
            record(
                connection,
                runtime.services,
                deliveries,
                advertiser=runtime.advertiser,
                echo_window=runtime.echo_window,
            )

    return CommitGroup(record_together)
