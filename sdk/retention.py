"""Retention: which contacts' data has outlived its purpose, judged by the same rules engine as every send.

France: prospects 3 years after collection or the last contact coming from them, customers 3 years after the
relationship ends, one re-permission message allowed on the anniversary. `plan` is a dry run; `apply` deletes the
contacts in batches and keeps each person's suppression hashes, so nobody deleted is re-imported as new.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, delete, exists, select

from .decision import Decision
from .facts import Facts
from .models import Contact, Request
from .rules import evaluate
from .store import call_log, consent_events, contacts, persons, reading
from .vocabulary import Action, Audience, Channel, Verdict

RETENTION_CODES = frozenset({"FR_RETENTION_PROSPECT_3Y", "FR_RETENTION_CUSTOMER_3Y", "FR_RETENTION_RECONFIRM"})
BATCH = 1000
CALL_CAP_WINDOW = timedelta(days=30)  # calls count towards the frequency cap this long


@dataclass(frozen=True)
class RetentionItem:
    contact_id: int
    source_system: str
    source_record_id: str
    action: str  # "delete" or "repermission" (the anniversary: one message asking whether to keep going)
    reason_codes: tuple[str, ...]
    due_on: date | None


def plan(engine: Engine, *, at: datetime | None = None) -> Iterator[RetentionItem]:
    """Every contact whose retention has ended (delete) or ends today (one re-permission message), streamed."""
    at = at or datetime.now(UTC)
    query = select(contacts).order_by(contacts.c.id)
    with reading(engine) as connection:
        for row in connection.execution_options(stream_results=True, yield_per=BATCH).execute(query):
            item = _judge(row, at)
            if item is not None:
                yield item


def _judge(row: Row[Any], at: datetime) -> RetentionItem | None:
    try:
        audience = Audience(row.audience) if row.audience else None
    except ValueError:
        return None
    known = {
        "existing_customer": bool(row.is_customer),
        "relationship_end_date": row.relationship_end,  # none: the relationship goes on
        "last_interaction": max(filter(None, (row.collected_on, row.last_inbound_contact)), default=None),
    }
    facts = Facts({key: value for key, value in known.items() if value is not None})  # None here is "none", not unknown
    contact = Contact(audience=audience, jurisdiction=row.jurisdiction, time_zone=None, facts=facts)
    decision = evaluate(Request(contact=contact, channel=Channel.ANY, at=at, action=Action.RETAIN))
    codes = tuple(code for code in decision.reason_codes if code in RETENTION_CODES)
    if not codes:
        return None
    if decision.verdict is Verdict.FORBIDDEN and decision.reasons and _blocked_by_retention(decision):
        return RetentionItem(row.id, row.source_system, row.source_record_id, "delete", codes, None)
    if "FR_RETENTION_RECONFIRM" in codes:
        return RetentionItem(row.id, row.source_system, row.source_record_id, "repermission", codes, at.date())
    return None


def _blocked_by_retention(decision: Decision) -> bool:
    return any(reason.code in RETENTION_CODES and reason.effect == "blocks" for reason in decision.reasons)


def apply(engine: Engine, *, at: datetime | None = None) -> int:
    """Delete what `plan` marks for deletion, a batch per transaction; people left with no contact, no ledger
    event and no call logged within CALL_CAP_WINDOW lose their clear identifiers too (a recent call must still
    count towards the calls-per-30-days cap). Suppression entries are hashes and stay."""
    at = at or datetime.now(UTC)
    deleted = 0
    batch: list[int] = []
    for item in plan(engine, at=at):
        if item.action == "delete":
            batch.append(item.contact_id)
        if len(batch) == BATCH:
            deleted += _delete(engine, batch, at)
            batch = []
    if batch:
        deleted += _delete(engine, batch, at)
    return deleted


def _delete(engine: Engine, contact_ids: list[int], at: datetime) -> int:
    with engine.begin() as connection:
        people = set(connection.execute(select(contacts.c.person_id).where(contacts.c.id.in_(contact_ids))).scalars())
        result = connection.execute(delete(contacts).where(contacts.c.id.in_(contact_ids)))
        orphaned = (
            delete(persons)
            .where(persons.c.id.in_(people))
            .where(~exists().where(contacts.c.person_id == persons.c.id))
            .where(~exists().where(consent_events.c.person_id == persons.c.id))
            .where(~exists().where(call_log.c.person_id == persons.c.id, call_log.c.called_at > at - CALL_CAP_WINDOW))
        )
        connection.execute(orphaned)
        return result.rowcount
