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

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from consentry.connectors.base import Capability, ConsentTag, RemoteContact, Unsubscribe, batched
from consentry.sdk.consent_state import ConsentEvent, ConsentStatus, EventKind, derive_state
from consentry.sdk.erasure import erased_strangers
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.persons import ensure_people, identifiers
from consentry.sdk.standing import standing_decision
from consentry.sdk.store import contacts, insert_ignoring_duplicates, persons, propagation_jobs, reading, sync_state
from consentry.sdk.vocabulary import Audience, Channel

from .propagation import backoff
from .runtime import Runtime

BATCH = 500  # records read or decided per database transaction
WRITE_BUFFER = 10_000  # a multiple of every vendor's batch size (500, 200, 100): no half-empty calls
TAGGED_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN)
PUSH_LEASE = timedelta(minutes=10)  # a sync that dies mid-push leaves its jobs to the propagation workers after this


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
        counts = summary.systems[name] = SystemSummary()
        with _calls_counted(connector, counts):
            since = None if full else _watermark(runtime, name)
            _read(runtime, name, connector, connector.fetch_contacts(since), counts, progress)
            if not dry_run:
                _set_watermark(runtime, name, now)
    for name, connector in runtime.connectors.items():
        with _calls_counted(connector, summary.systems.setdefault(name, SystemSummary())):
            _write_back(runtime, name, connector, summary, dry_run, tags, now)
    summary.people = _count_people(runtime)
    return summary


@contextmanager
def _calls_counted(connector, counts: SystemSummary) -> Iterator[None]:
    """The API calls this thread makes to `connector` within the block, added to `counts` (even when it fails)."""
    before = connector.transport.calls.this_thread
    try:
        yield
    finally:
        counts.api_calls += connector.transport.calls.this_thread - before


# -- reading ------------------------------------------------------------------------------------------------------


def _read(runtime, system, connector, remote: Iterable[RemoteContact], counts: SystemSummary, progress) -> None:
    """Page by page (constant memory), each page in one transaction and a few statements."""
    for chunk in batched(remote, BATCH):
        valid = []
        for contact in chunk:
            counts.read += 1
            try:
                valid.append((contact, *identifiers(contact.email, contact.phone)))
            except InvalidInputError:
                counts.skipped += 1
        with runtime.services.engine.begin() as connection:
            valid = _not_erased(connection, runtime, valid, counts)
            person_ids = ensure_people(connection, [(email, phone) for _, email, phone in valid])
            people = [(c, p) for (c, _, _), p in zip(valid, person_ids, strict=True)]
            _upsert_contacts(connection, system, people, connector)
            prepared = [
                (event, email, phone)
                for contact, email, phone in valid
                for event in _events_from(system, contact, runtime.advertiser)
            ]
            recorded = runtime.services.ledger.append_in(connection, prepared)
            counts.new_events += sum(r.is_new for r in recorded)
        if progress is not None:
            progress.update(len(chunk))


def _not_erased(connection, runtime, valid: list, counts: SystemSummary) -> list:
    """The records whose person was not erased: an erased person still in a CRM is skipped, never stored again."""
    erased = erased_strangers(connection, runtime.services.suppression, [(email, phone) for _, email, phone in valid])
    counts.skipped += sum(erased)
    return [item for item, gone in zip(valid, erased, strict=True) if not gone]


def _events_from(system: str, contact: RemoteContact, advertiser: str) -> Iterator[ConsentEvent]:
    """What this system says, as ledger events whose keys repeat on every run (so a re-read adds nothing).

    An opt-out's key holds the record's modification time: a person who opts out again in this system, after a
    newer consent, is a new event that the ledger must hold, not a repeat of the first opt-out."""
    moment = contact.updated_at or datetime(1970, 1, 1, tzinfo=UTC)
    for channel in sorted(contact.opted_out):
        yield ConsentEvent(
            f"sync:{system}:{contact.record_id}:{channel}:out:{moment.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}",
            EventKind.WITHDRAWN,
            channel,
            moment,
            system,
            advertiser,
            source_record_id=contact.record_id,
        )
    for channel in sorted(contact.subscribed - contact.opted_out):
        yield ConsentEvent(
            f"sync:{system}:{contact.record_id}:{channel}:in",
            EventKind.GRANTED,
            channel,
            moment,
            system,
            advertiser,
            source_record_id=contact.record_id,
            method="imported",
        )


def _upsert_contacts(connection, system: str, items: list[tuple[RemoteContact, int]], connector) -> None:
    """What the system says of each record; audience and jurisdiction from the record, else the connector's."""
    rows = {}
    kept, defaults = connector.kept_attributes, connector.config
    for contact, person_id in items:  # a record read twice in one page: the later reading wins
        rows[contact.record_id] = {
            "person_id": person_id,
            "jurisdiction": str(contact.attributes.get("jurisdiction") or defaults["jurisdiction"])[:8],
            "audience": str(contact.attributes.get("audience") or defaults["audience"])[:24],
            "opted_out_channels": ";".join(sorted(contact.opted_out)),
            # the record's type where the system has several (Salesforce Contact, Lead), else its status
            "vendor_state": str(contact.attributes.get("object") or contact.attributes.get("status") or "")[:40],
            "updated_at": datetime.now(UTC),
            "kept_fields": _kept_fields(contact, kept),
        }
    if not rows:
        return
    existing = dict(
        connection.execute(
            select(contacts.c.source_record_id, contacts.c.id).where(
                contacts.c.source_system == system, contacts.c.source_record_id.in_(list(rows))
            )
        ).all()
    )
    new = [
        {"source_system": system, "source_record_id": record_id, "is_customer": False, **values}
        for record_id, values in rows.items()
        if record_id not in existing
    ]
    if new:
        connection.execute(insert_ignoring_duplicates(connection, contacts), new)
    changed = [
        {"contact_id": existing[record_id], **{f"new_{k}": v for k, v in values.items()}}
        for record_id, values in rows.items()
        if record_id in existing
    ]
    if changed:
        statement = (
            update(contacts)
            .where(contacts.c.id == bindparam("contact_id"))
            .values({name: bindparam(f"new_{name}") for name in rows[next(iter(rows))]})
        )
        connection.execute(statement, changed)


# -- deciding and writing back ------------------------------------------------------------------------------------


def _write_back(runtime, system, connector, summary: SyncSummary, dry_run: bool, tags: bool, now: datetime) -> None:
    """Page by page over the system's records: push the opt-outs it lacks, and rewrite only the consent tags that
    changed since Consentry last wrote them. Writes wait in bounded buffers (WRITE_BUFFER, a multiple of every
    vendor's batch size), so calls are the fewest the vendors' batch limits allow and memory stays flat."""
    counts = summary.systems.setdefault(system, SystemSummary())
    writer = _Writer(runtime, system, connector, counts, dry_run, now)
    tagging = tags and connector.supports(Capability.TAG_CONSENT)
    for chunk in _pages_of_contacts(runtime.services.engine, system):
        history = runtime.services.ledger.events_of_people(sorted({row.person_id for row in chunk}))
        listed = runtime.services.suppression.of_people([(row.email, row.phone) for row in chunk])
        for row, suppression in zip(chunk, listed, strict=True):
            events = history.get(row.person_id, [])
            state = derive_state(events, channel="email", advertiser=runtime.advertiser)
            opted_out = state.status is ConsentStatus.OPTED_OUT or (
                suppression is not None and suppression.covers("email")
            )
            here = set(filter(None, row.opted_out_channels.split(";")))
            pushed = opted_out and "email" not in here
            if pushed:
                writer.pushes.append((row, events))
                if any(e.source_system != system and e.kind.opts_out for e in events):
                    summary.conflicts += 1
            if tagging:
                tag = _tag(row, events, runtime.advertiser, now, pushed=pushed, here=here, suppression=suppression)
                if pushed or tag_text(tag.status) != row.written_tag:
                    writer.tags.append(tag)
        writer.flush(final=False)
    writer.flush(final=True)


class _Writer:
    """The pending pushes and tags of one system, written once a buffer is full, and at the end."""

    def __init__(self, runtime, system: str, connector, counts: SystemSummary, dry_run: bool, now: datetime):
        self.runtime, self.system, self.connector = runtime, system, connector
        self.counts, self.dry_run, self.now = counts, dry_run, now
        self.pushes: list = []
        self.tags: list[ConsentTag] = []

    def flush(self, *, final: bool) -> None:
        if final or len(self.pushes) >= WRITE_BUFFER:
            self._push()
        if final or len(self.tags) >= WRITE_BUFFER:
            self._tag()

    def _push(self) -> None:
        pushes, self.pushes = self.pushes, []
        if not pushes:
            return
        if self.dry_run:
            self.counts.unsubscribes_pushed += len(pushes)
            return
        if self.connector.supports(Capability.PUSH_UNSUBSCRIBE):
            # Recorded before the push: the system's webhook for it may arrive before the push returns, and the
            # webhook server must see the job to know it for an echo. Should the sync die here, the jobs' lease
            # runs out and the propagation workers push them.
            _announce_pushes(self.runtime, self.system, pushes)
            report = self.connector.push_unsubscribes(_unsubscribe(row) for row, _ in pushes)
            refused = dict(report.failed)
            if any(not 0 <= position < len(pushes) for position in refused):  # not said which: none was applied
                refused = dict.fromkeys(range(len(pushes)), next(iter(refused.values())))
            applied = [push for position, push in enumerate(pushes) if position not in refused]
            self.counts.unsubscribes_pushed += len(applied)
            _record_pushes(self.runtime, self.system, applied, self.now)
            _record_refusals(self.runtime, self.system, [(pushes[p], code) for p, code in refused.items()], self.now)

    def _tag(self) -> None:
        tags, self.tags = self.tags, []
        if not tags:
            return
        if self.dry_run:
            self.counts.tags_written += len(tags)
            return
        report = self.connector.apply_consent(tags)
        self.counts.tags_written += report.applied
        if not report.failed:  # any failure: the whole buffer is written again next time
            _remember_tags(self.runtime, self.system, tags)


def _pages_of_contacts(engine, system: str) -> Iterator[list]:
    """The system's records, BATCH at a time by key (no result set held open across vendor calls)."""
    query = (
        select(
            contacts.c.id,
            contacts.c.person_id,
            contacts.c.source_record_id,
            contacts.c.jurisdiction,
            contacts.c.audience,
            contacts.c.opted_out_channels,
            contacts.c.vendor_state,
            contacts.c.written_tag,
            contacts.c.kept_fields,
            persons.c.email,
            persons.c.phone,
        )
        .join(persons, persons.c.id == contacts.c.person_id)
        .where(contacts.c.source_system == system)
        .order_by(contacts.c.id)
        .limit(BATCH)
    )
    after = 0
    while True:
        with reading(engine) as connection:
            page = list(connection.execute(query.where(contacts.c.id > after)))
        if not page:
            return
        yield page
        after = page[-1].id


def _unsubscribe(row) -> Unsubscribe:
    return Unsubscribe(email=row.email, phone=row.phone, channels=frozenset({"email"}), record_id=row.source_record_id)


def tag_text(status) -> str:
    return ";".join(f"{channel}={verdict}" for channel, verdict in sorted(status.items()))


def _kept_fields(contact: RemoteContact, kept) -> str | None:
    fields = {name: contact.attributes[name] for name in kept if contact.attributes.get(name)}
    return json.dumps(fields, sort_keys=True, default=str) if fields else None


def _parse_tag(text: str | None) -> dict[str, str]:
    return dict(part.split("=", 1) for part in (text or "").split(";") if "=" in part)


def _tag(
    row, events, advertiser: str, now: datetime, *, pushed: bool = False, here=frozenset(), suppression=None
) -> ConsentTag:
    """The engine's standing verdict per channel for this person, from what the ledger and the list hold."""
    try:
        audience = Audience(row.audience)
    except ValueError:
        audience = None
    decisions = {
        channel: standing_decision(
            events,
            channel,
            advertiser=advertiser,
            audience=audience,
            jurisdiction=row.jurisdiction,
            at=now,
            suppression=suppression,
        )
        for channel in TAGGED_CHANNELS
    }
    email_decision, email = decisions[Channel.EMAIL]
    # Only a newer, explicit, provable consent in the ledger may lift an opt-out this system holds, and never one
    # the suppression list still holds.
    listed = suppression is not None and suppression.covers(Channel.EMAIL.value)
    resubscribe = email.status is ConsentStatus.GRANTED and email.provable and "email" in here and not listed
    return ConsentTag(
        email=row.email,
        phone=row.phone,
        record_id=row.source_record_id,
        status={channel.value: decision.verdict.value for channel, (decision, _) in decisions.items()},
        legal_basis=email_decision.legal_basis.value if email_decision.legal_basis is not None else None,
        known={
            **json.loads(row.kept_fields or "{}"),
            "status": "unsubscribed" if pushed else row.vendor_state,
            "object": row.vendor_state,
            "previous": _parse_tag(row.written_tag),
            "resubscribe": resubscribe,
        },
    )


def _remember_tags(runtime, system: str, written: list[ConsentTag]) -> None:
    statement = (
        update(contacts)
        .where(contacts.c.source_system == system, contacts.c.source_record_id == bindparam("record_id"))
        .values(written_tag=bindparam("tag"))
    )
    with runtime.services.engine.begin() as connection:
        connection.execute(statement, [{"record_id": t.record_id, "tag": tag_text(t.status)} for t in written])


def _push_job(row, events, system: str, now: datetime, **outcome) -> dict:
    """The audit row of one push by the sync; its key also lets the webhook server recognise the echo."""
    return {
        "event_key": _push_key(row, events),
        "person_id": row.person_id,
        "source_system": "sync",
        "target_system": system,
        "channel": "email",
        "attempts": 1,
        "next_attempt_at": now,
        "received_at": now,
        "updated_at": now,
        **outcome,
    }


def _push_key(row, events) -> str:
    """The latest event's key: a person who opts out again after a newer consent is pushed again. A person whom
    only the suppression list holds (an imported list) has no event: their own key."""
    latest = max(events, key=lambda e: e.occurred_at).event_key if events else f"suppressed:{row.person_id}"
    return f"{latest}:sync"


def _announce_pushes(runtime, system: str, pushes) -> None:
    """The jobs of the pushes about to be made, running under the sync's lease from now."""
    now = datetime.now(UTC)
    running = {"status": "running", "lease_until": now + PUSH_LEASE}
    jobs = [_push_job(row, events, system, now, **running) for row, events in pushes]
    with runtime.services.engine.begin() as connection:
        connection.execute(insert_ignoring_duplicates(connection, propagation_jobs), jobs)
        # an earlier run's job for the same opt-out: running again, and recent, for the echo check
        _settle(connection, system, pushes, **running, updated_at=now)


def _settle(connection, system: str, pushes, **values) -> None:
    """Update the jobs `_announce_pushes` wrote (or an earlier run's, which the same key names)."""
    table = propagation_jobs.c
    statement = (
        update(propagation_jobs)
        .where(table.event_key == bindparam("key"), table.target_system == system)
        .values(**values)
    )
    connection.execute(statement, [{"key": _push_key(row, events)} for row, events in pushes])


def _record_pushes(runtime, system: str, pushes, now: datetime) -> None:
    """Each push applied is a job done, and the record now holds the opt-out."""
    if not pushes:
        return
    with runtime.services.engine.begin() as connection:
        _settle(
            connection, system, pushes, status="done", done_at=now, updated_at=now, lease_until=None, last_error=None
        )
        connection.execute(
            update(contacts).where(contacts.c.id == bindparam("contact_id")).values(opted_out_channels="email"),
            [{"contact_id": row.id} for row, _ in pushes],
        )


def _record_refusals(runtime, system: str, refused, now: datetime) -> None:
    """A push the vendor refused is a failed job, which the propagation workers retry with backoff until it is
    applied or dead; the record is left without the opt-out, so the next sync pushes it again too."""
    by_code: dict[str, list] = {}
    for push, code in refused:
        by_code.setdefault(code, []).append(push)
    with runtime.services.engine.begin() as connection:
        for code, pushes in by_code.items():
            error = f"REJECTED_{code}"[:120]
            _settle(
                connection,
                system,
                pushes,
                status="failed",
                lease_until=None,
                next_attempt_at=now + backoff(1),
                updated_at=now,
                last_error=error,
            )


def _watermark(runtime, system: str):
    with reading(runtime.services.engine) as connection:
        value = connection.execute(select(sync_state.c.watermark).where(sync_state.c.connector == system)).scalar()
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
    with reading(runtime.services.engine) as connection:
        return connection.execute(select(func.count()).select_from(persons)).scalar_one()
