"""`consentry sync` and `consentry reconcile`: one answer across every connected system.

Read each system incrementally (since its last successful run) and record what it says in the ledger, with the
system as the origin of the proof; merge people by normalised email and phone; decide each person per channel with
the rules engine; write the verdicts back as consent tags; and push every opt-out into every system that does not
have it yet. An opt-out anywhere wins over a subscription elsewhere unless the ledger holds a newer, explicit,
provable consent; nothing here ever subscribes anyone. Every push is recorded as a propagation job (source "sync"),
which is the audit trail and lets the webhook server recognise the echo.

Re-running is safe: events are idempotent on their keys, writes are state assignments, and a connector's watermark
moves only once its whole read has been recorded, so an interrupted run resumes where it must. A dry run records
what the systems say (facts, idempotent) but writes nothing to any system and leaves the watermarks alone.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update

from connectors.base import Capability, ConsentTag, RemoteContact, Unsubscribe
from sdk.consent_state import ConsentEvent, ConsentStatus, derive_state
from sdk.errors import InvalidInputError
from sdk.facts import Facts
from sdk.models import Contact, Request
from sdk.persons import ensure_person, identifiers
from sdk.rules import evaluate
from sdk.store import consent_events, contacts, insert_ignoring_duplicates, persons, propagation_jobs, sync_state
from sdk.vocabulary import Action, Audience, Channel

from .runtime import Runtime

BATCH = 500
TAGGED_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN)


@dataclass
class SystemSummary:
    read: int = 0
    skipped: int = 0
    new_events: int = 0
    tags_written: int = 0
    unsubscribes_pushed: int = 0
    api_calls: int = 0


@dataclass
class SyncSummary:
    dry_run: bool
    systems: dict[str, SystemSummary] = field(default_factory=dict)
    people: int = 0
    conflicts: int = 0

    def lines(self) -> list[str]:
        head = f"{'system':<12}{'read':>8}{'skipped':>9}{'events':>8}{'tags':>8}{'unsubs':>8}{'calls':>8}"
        rows = [head] + [
            f"{name:<12}{s.read:>8}{s.skipped:>9}{s.new_events:>8}{s.tags_written:>8}{s.unsubscribes_pushed:>8}"
            f"{s.api_calls:>8}"
            for name, s in self.systems.items()
        ]
        rows.append(
            f"{self.people} people, {self.conflicts} resolved in favour of an opt-out"
            + (" (dry run: nothing written)" if self.dry_run else "")
        )
        return rows


def run_sync(
    runtime: Runtime,
    *,
    dry_run: bool = False,
    full: bool = False,
    tags: bool = True,
    progress=None,
    now: datetime | None = None,
) -> SyncSummary:
    now = now or datetime.now(UTC)
    summary = SyncSummary(dry_run=dry_run)
    readers = {name: c for name, c in runtime.connectors.items() if c.supports(Capability.SYNC_CONTACTS)}
    for name, connector in readers.items():
        summary.systems[name] = SystemSummary()
        calls_before = connector.transport.calls.total
        since = None if full else _watermark(runtime, name)
        _read(runtime, name, connector.fetch_contacts(since), summary.systems[name], progress)
        if not dry_run:
            _set_watermark(runtime, name, now)
        summary.systems[name].api_calls += connector.transport.calls.total - calls_before
    for name, connector in runtime.connectors.items():
        calls_before = connector.transport.calls.total
        _write_back(runtime, name, connector, summary, dry_run, tags, now)
        summary.systems.setdefault(name, SystemSummary()).api_calls += connector.transport.calls.total - calls_before
    summary.people = _count_people(runtime)
    return summary


# -- reading ------------------------------------------------------------------------------------------------------


def _read(runtime, system, remote: Iterable[RemoteContact], counts: SystemSummary, progress) -> None:
    for chunk in _chunks(remote, BATCH):
        with runtime.services.engine.connect() as connection:
            transaction = connection.begin()
            for contact in chunk:
                counts.read += 1
                try:
                    email, phone = identifiers(contact.email, contact.phone)
                except InvalidInputError:
                    counts.skipped += 1
                    continue
                person_id = ensure_person(connection, email, phone)
                _upsert_contact(connection, system, contact, person_id)
                events = list(_events_from(system, contact, runtime.advertiser))
                recorded = runtime.services.ledger.append_in(connection, [(e, email, phone) for e in events])
                counts.new_events += sum(r.is_new for r in recorded)
            transaction.commit()
        if progress is not None:
            progress.update(len(chunk))


def _events_from(system: str, contact: RemoteContact, advertiser: str) -> Iterator[ConsentEvent]:
    """What this system says, as ledger events whose keys repeat on every run (so a re-read adds nothing)."""
    moment = contact.updated_at or datetime(1970, 1, 1, tzinfo=UTC)
    for channel in sorted(contact.opted_out):
        yield ConsentEvent(
            f"sync:{system}:{contact.record_id}:{channel}:out",
            "withdrawn",
            channel,
            moment,
            system,
            advertiser,
            source_record_id=contact.record_id,
        )
    for channel in sorted(contact.subscribed - contact.opted_out):
        yield ConsentEvent(
            f"sync:{system}:{contact.record_id}:{channel}:in",
            "granted",
            channel,
            moment,
            system,
            advertiser,
            source_record_id=contact.record_id,
            method="imported",
        )


def _upsert_contact(connection, system: str, contact: RemoteContact, person_id: int) -> None:
    values = {
        "person_id": person_id,
        "jurisdiction": str(contact.attributes.get("jurisdiction") or "FR")[:8],
        "audience": str(contact.attributes.get("audience") or "b2c")[:24],
        "opted_out_channels": ";".join(sorted(contact.opted_out)),
        # the record's type where the system has several (Salesforce Contact, Lead), else its subscription status
        "vendor_state": str(contact.attributes.get("object") or contact.attributes.get("status") or "")[:40],
        "updated_at": datetime.now(UTC),
    }
    existing = connection.execute(
        select(contacts.c.id).where(
            contacts.c.source_system == system, contacts.c.source_record_id == contact.record_id
        )
    ).scalar()
    if existing is None:
        statement = insert_ignoring_duplicates(connection, contacts).values(
            source_system=system, source_record_id=contact.record_id, is_customer=False, **values
        )
        connection.execute(statement)
    else:
        connection.execute(update(contacts).where(contacts.c.id == existing).values(**values))


# -- deciding and writing back ------------------------------------------------------------------------------------


def _write_back(runtime, system, connector, summary: SyncSummary, dry_run: bool, tags: bool, now: datetime) -> None:
    engine = runtime.services.engine
    query = (
        select(
            contacts.c.person_id,
            contacts.c.source_record_id,
            contacts.c.jurisdiction,
            contacts.c.audience,
            contacts.c.opted_out_channels,
            contacts.c.vendor_state,
            persons.c.email,
            persons.c.phone,
        )
        .join(persons, persons.c.id == contacts.c.person_id)
        .where(contacts.c.source_system == system)
        .order_by(contacts.c.id)
    )
    with engine.connect() as connection:
        rows = list(connection.execute(query))
    counts = summary.systems.setdefault(system, SystemSummary())
    for chunk in _chunks(rows, BATCH):
        pending_tags, pushes = [], []
        for row in chunk:
            events = runtime.services.ledger.events(email=row.email, phone=row.phone)
            state = derive_state(events, channel="email", advertiser=runtime.advertiser)
            here = set(filter(None, row.opted_out_channels.split(";")))
            if state.status is ConsentStatus.OPTED_OUT and "email" not in here:
                pushes.append(
                    (
                        row,
                        Unsubscribe(
                            email=row.email,
                            phone=row.phone,
                            channels=frozenset({"email"}),
                            record_id=row.source_record_id,
                        ),
                    )
                )
                if any(e.source_system != system and e.kind.opts_out for e in events):
                    summary.conflicts += 1
            if tags and connector.supports(Capability.TAG_CONSENT):
                pushed = bool(pushes) and pushes[-1][0] is row
                pending_tags.append(_tag(row, events, runtime.advertiser, now, pushed=pushed))
        if dry_run:
            counts.unsubscribes_pushed += len(pushes)
            counts.tags_written += len(pending_tags)
            continue
        if pushes and connector.supports(Capability.PUSH_UNSUBSCRIBE):
            report = connector.push_unsubscribes(item for _, item in pushes)
            counts.unsubscribes_pushed += len(pushes) - len(report.failed)
            _record_pushes(runtime, system, [row for row, _ in pushes], now)
        if pending_tags:
            report = connector.apply_consent(pending_tags)
            counts.tags_written += report.applied


def _tag(row, events, advertiser: str, now: datetime, *, pushed: bool = False) -> ConsentTag:
    """The engine's verdict per channel for this person, from what the ledger holds."""
    verdicts = {}
    for channel in TAGGED_CHANNELS:
        state = derive_state(events, channel=channel.value, advertiser=advertiser)
        facts = {"consent_state": {"granted": "opt_in", "opted_out": "withdrawn"}.get(state.status.value, "none")}
        if state.since is not None and state.status is not ConsentStatus.UNKNOWN:
            facts["consent_date" if state.status is ConsentStatus.GRANTED else "withdrawal_date"] = state.since.date()
        try:
            audience = Audience(row.audience)
        except ValueError:
            audience = None
        contact = Contact(
            audience=audience, jurisdiction=row.jurisdiction, time_zone="Europe/Paris", facts=Facts(facts)
        )
        decision = evaluate(Request(contact=contact, channel=channel, at=now, action=Action.SEND))
        verdicts[channel.value] = decision.verdict.value
    return ConsentTag(
        email=row.email,
        phone=row.phone,
        record_id=row.source_record_id,
        status=verdicts,
        known={"status": "unsubscribed" if pushed else row.vendor_state, "object": row.vendor_state},
    )


def _record_pushes(runtime, system: str, rows, now: datetime) -> None:
    """Each push is an audit row, and tells the webhook server that the echo coming back is ours."""
    with runtime.services.engine.begin() as connection:
        for row in rows:
            key = (
                connection.execute(
                    select(consent_events.c.event_key)
                    .where(consent_events.c.person_id == row.person_id)
                    .order_by(consent_events.c.occurred_at.desc())
                    .limit(1)
                ).scalar()
                or "sync"
            )
            connection.execute(
                insert_ignoring_duplicates(connection, propagation_jobs).values(
                    event_key=f"{key}:sync",
                    person_id=row.person_id,
                    source_system="sync",
                    target_system=system,
                    channel="email",
                    status="done",
                    attempts=1,
                    next_attempt_at=now,
                    received_at=now,
                    updated_at=now,
                    done_at=now,
                )
            )
            connection.execute(
                update(contacts)
                .where(contacts.c.person_id == row.person_id, contacts.c.source_system == system)
                .values(opted_out_channels="email")
            )


def _watermark(runtime, system: str):
    with runtime.services.engine.connect() as connection:
        value = connection.execute(select(sync_state.c.watermark).where(sync_state.c.connector == system)).scalar()
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _set_watermark(runtime, system: str, moment: datetime) -> None:
    with runtime.services.engine.begin() as connection:
        changed = connection.execute(
            update(sync_state).where(sync_state.c.connector == system).values(watermark=moment, updated_at=moment)
        ).rowcount
        if not changed:
            connection.execute(
                insert_ignoring_duplicates(connection, sync_state).values(
                    connector=system, watermark=moment, updated_at=moment
                )
            )


def _count_people(runtime) -> int:
    from sqlalchemy import func

    with runtime.services.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(persons)).scalar_one()


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
