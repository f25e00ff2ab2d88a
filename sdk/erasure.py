"""Erasure (right to be forgotten): remove a person's data, keep only the suppression hashes.

The person is never re-imported as new, because every identifier is on the suppression list for every channel
with the reason ERASURE_REASON, which the sync and the webhook inbox read as "do not store again in clear"; the
`erasures` table records that an erasure happened, and how much it removed, never who.

An opt-out still on its way to another system must not be dropped with the person: its propagation jobs stay and
keep the identifiers they must deliver (`held_email`, `held_phone`) until they are done, when the workers wipe them.
"""

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, func, select, update

from .errors import ConsentryError
from .identity import IdentifierKind
from .persons import find_person, identifiers
from .store import consent_events, contacts, erasures, persons, propagation_jobs
from .suppression import ERASURE_REASON, SuppressionList

CHECKPOINT_PATIENCE = 10.0  # seconds to wait for SQLite readers to let the write-ahead log go


class Erased(NamedTuple):
    events_removed: int
    contacts_removed: int
    opt_outs_held: int  # jobs still delivering an opt-out, holding the identifiers until they are done


class ErasureIncomplete(ConsentryError):
    """The person is erased from the tables, but copies of their data may remain in SQLite's write-ahead log
    because another process kept reading; running the erasure again finishes it."""


def erase(
    engine: Engine,
    suppression: SuppressionList,
    *,
    email: str | None = None,
    phone: str | None = None,
    patience: float = CHECKPOINT_PATIENCE,
) -> Erased:
    """Erase one person in one transaction, then make sure no erased byte stays in the SQLite file."""
    with engine.begin() as connection:
        erased = erase_in(connection, suppression, email=email, phone=phone)
    if not forget_freed_pages(engine, patience=patience):
        raise ErasureIncomplete(
            "the person was erased, but another process is reading the database, so copies may remain in its "
            "write-ahead log; run the erasure again once it is idle"
        )
    return erased


def erase_in(
    connection: Connection,
    suppression: SuppressionList,
    *,
    email: str | None = None,
    phone: str | None = None,
    reason: str = "erasure_request",
) -> Erased:
    """The erasure inside the caller's transaction (a rights request wipes its own copy of the identifiers in the
    same one); the caller then calls `forget_freed_pages`."""
    email, phone = identifiers(email, phone)
    person_id = find_person(connection, email, phone)
    known = {IdentifierKind.EMAIL: email, IdentifierKind.PHONE: phone}
    events_removed = contacts_removed = held = 0
    if person_id is not None:
        person = connection.execute(select(persons).where(persons.c.id == person_id)).one()
        known = {IdentifierKind.EMAIL: person.email or email, IdentifierKind.PHONE: person.phone or phone}
        events_removed = _count(connection, consent_events, person_id)
        contacts_removed = _count(connection, contacts, person_id)
        held = _hold_opt_outs(connection, person_id, person.email, person.phone)
        connection.execute(consent_events.delete().where(consent_events.c.person_id == person_id))
        connection.execute(contacts.delete().where(contacts.c.person_id == person_id))
        connection.execute(persons.delete().where(persons.c.id == person_id))
    for kind, value in known.items():
        if value:
            suppression.add_normalised(connection, kind, value, frozenset({"all"}), ERASURE_REASON)
    connection.execute(
        erasures.insert().values(
            erased_at=datetime.now(UTC),
            reason=reason,
            events_removed=events_removed,
            contacts_removed=contacts_removed,
        )
    )
    return Erased(events_removed, contacts_removed, held)


def _hold_opt_outs(connection: Connection, person_id: int, email: str | None, phone: str | None) -> int:
    """Every job of the person stays as an audit row naming nobody; those not done yet keep what they deliver."""
    table = propagation_jobs.c
    held = connection.execute(
        update(propagation_jobs)
        .where(table.person_id == person_id, table.status != "done")
        .values(held_email=email, held_phone=phone, person_id=None)
    ).rowcount
    connection.execute(update(propagation_jobs).where(table.person_id == person_id).values(person_id=None))
    return int(held)


def _count(connection: Connection, table: Table, person_id: int) -> int:
    return int(connection.execute(select(func.count()).where(table.c.person_id == person_id)).scalar_one())


def forget_freed_pages(
    engine: Engine, *, patience: float = CHECKPOINT_PATIENCE, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """SQLite keeps old page images in the WAL until a checkpoint: truncate it so no erased bytes remain.

    A reader holding an old snapshot blocks the checkpoint (SQLite then reports it busy): retry for `patience`
    seconds; False when it never completed. Other databases keep no such copies in a file of ours: True."""
    if engine.dialect.name != "sqlite":
        return True
    deadline = time.monotonic() + patience
    while True:
        raw = engine.raw_connection()
        try:
            driver: Any = raw.driver_connection  # sqlite3's own connection
            busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        sleep(0.1)


def erased_strangers(
    connection: Connection, suppression: SuppressionList, people: Sequence[tuple[str | None, str | None]]
) -> list[bool]:
    """Per (normalised email, normalised phone): whether these are identifiers of an erased person who is not a
    person here again (a new, explicit consent recorded since makes them one). A record or a webhook that names
    them is not stored: storing it would bring the erased identifiers back in clear."""
    answers = []
    for (email, phone), entry in zip(people, suppression.of_people(people), strict=True):
        answers.append(entry is not None and entry.erased and find_person(connection, email, phone) is None)
    return answers
