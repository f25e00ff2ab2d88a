"""Erasure (right to be forgotten): remove a person's data, keep only the suppression hashes.

The person is never re-imported as new, because every identifier is on the suppression list for every channel;
the `erasures` table records that an erasure happened, and how much it removed, never who.
"""

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from .identity import IdentifierKind
from .persons import find_person, identifiers
from .store import consent_events, contacts, erasures, persons
from .suppression import SuppressionList

ERASURE_REASON = "GDPR_ERASURE"


def erase(engine: Engine, suppression: SuppressionList, *, email: str | None = None, phone: str | None = None):
    """Erase one person in one transaction; returns (ledger events removed, contacts removed)."""
    email, phone = identifiers(email, phone)
    with engine.begin() as connection:
        person_id = find_person(connection, email, phone)
        known = {IdentifierKind.EMAIL: email, IdentifierKind.PHONE: phone}
        events_removed = contacts_removed = 0
        if person_id is not None:
            person = connection.execute(select(persons).where(persons.c.id == person_id)).one()
            known = {IdentifierKind.EMAIL: person.email or email, IdentifierKind.PHONE: person.phone or phone}
            events_removed = _count(connection, consent_events, person_id)
            contacts_removed = _count(connection, contacts, person_id)
            connection.execute(consent_events.delete().where(consent_events.c.person_id == person_id))
            connection.execute(contacts.delete().where(contacts.c.person_id == person_id))
            connection.execute(persons.delete().where(persons.c.id == person_id))
        for kind, value in known.items():
            if value:
                suppression.add_normalised(connection, kind, value, frozenset({"all"}), ERASURE_REASON)
        connection.execute(
            erasures.insert().values(
                erased_at=datetime.now(UTC),
                reason="erasure_request",
                events_removed=events_removed,
                contacts_removed=contacts_removed,
            )
        )
    _forget_freed_pages(engine)
    return events_removed, contacts_removed


def _count(connection, table, person_id: int) -> int:
    return connection.execute(select(func.count()).where(table.c.person_id == person_id)).scalar_one()


def _forget_freed_pages(engine: Engine) -> None:
    """SQLite keeps old page images in the WAL until a checkpoint; truncate it so no erased bytes remain."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
