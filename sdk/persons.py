"""People, keyed by their normalised email and phone: the only place clear identifiers are stored."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.sql.dml import ReturningInsert

from .errors import InvalidInputError
from .identity import normalise_email, normalise_phone
from .store import insert_ignoring_duplicates, persons


def identifiers(
    email: str | None = None, phone: str | None = None, region: str | None = "FR"
) -> tuple[str | None, str | None]:
    """Normalised (email, phone); at least one is required."""
    if not email and not phone:
        raise InvalidInputError("an email address or a phone number is required", field="email")
    return (normalise_email(email) if email else None, normalise_phone(phone, region) if phone else None)


def find_person(connection: Connection, email: str | None, phone: str | None) -> int | None:
    conditions = []
    if email:
        conditions.append(persons.c.email == email)
    if phone:
        conditions.append(persons.c.phone == phone)
    return connection.execute(select(persons.c.id).where(or_(*conditions)).limit(1)).scalar()


def ensure_person(connection: Connection, email: str | None, phone: str | None) -> int:
    """The person's id, created when unknown; safe when two writers create the same person at once."""
    found = find_person(connection, email, phone)
    if found is not None:
        if email or phone:
            _complete(connection, found, email, phone)
        return found
    statement = insert_ignoring_duplicates(connection, persons).values(
        email=email, phone=phone, created_at=datetime.now(UTC)
    )
    connection.execute(statement)
    created = find_person(connection, email, phone)
    assert created is not None  # the insert, or the concurrent writer it yielded to, made the person
    return created


def _complete(connection: Connection, person_id: int, email: str | None, phone: str | None) -> None:
    """Fill in an identifier the person did not have yet (never overwrite one)."""
    row = connection.execute(select(persons.c.email, persons.c.phone).where(persons.c.id == person_id)).one()
    changes = {}
    if email and row.email is None and find_person(connection, email, None) is None:
        changes["email"] = email
    if phone and row.phone is None and find_person(connection, None, phone) is None:
        changes["phone"] = phone
    if changes:
        connection.execute(persons.update().where(persons.c.id == person_id).values(**changes))


def ensure_people(connection: Connection, pairs: list[tuple[str | None, str | None]]) -> list[int]:
    """`ensure_person` for many (email, phone) pairs in a few statements: the ids, aligned with the pairs.

    An email match is preferred over a phone match, as one person may carry both."""
    return resolve_people(connection, pairs).ids


@dataclass
class People:
    """Who the pairs are: `ids` aligned with the pairs, every identifier each person now has, and the people this
    transaction created (no other transaction can have written anything about them yet)."""

    ids: list[int]
    identifiers: dict[int, tuple[str | None, str | None]]
    created: set[int]


def resolve_people(connection: Connection, pairs: list[tuple[str | None, str | None]]) -> People:
    """`ensure_people`, keeping what the statements returned, so callers need not read the people again."""
    known = _people_by_identifier(connection, pairs)
    created: set[int] = set()
    missing = {pair: None for pair in pairs if _match(known, pair) is None}
    if missing:
        now = datetime.now(UTC)
        rows = [{"email": email, "phone": phone, "created_at": now} for email, phone in missing]
        for entry in connection.execute(_insert_people(connection), rows):
            created.add(entry.id)
            _remember(known, entry)
    people = People([], {}, created)
    rereads = []
    for email, phone in pairs:
        row = _match(known, (email, phone))
        if row is None:  # another writer took one of the identifiers for someone else in between: one at a time
            row = _Row(ensure_person(connection, email, phone), None, None)
            rereads.append(row.id)
        elif (email and row.email is None) or (phone and row.phone is None):
            _complete(connection, row.id, email, phone)
            rereads.append(row.id)
        people.ids.append(row.id)
        people.identifiers[row.id] = (row.email, row.phone)
    if rereads:  # their identifiers changed (or came from the slow path): as they are now
        for row in connection.execute(_PEOPLE_BY_ID, {"ids": sorted(set(rereads))}):
            people.identifiers[row.id] = (row.email, row.phone)
    return people


class _Row(NamedTuple):
    id: int
    email: str | None
    phone: str | None


def _insert_people(connection: Connection) -> ReturningInsert[Any]:
    return insert_ignoring_duplicates(connection, persons).returning(persons.c.id, persons.c.email, persons.c.phone)


# Statements of the webhook inbox's hot path are built once: building one costs more than running it.
_PEOPLE_BY_EMAIL = select(persons.c.id, persons.c.email, persons.c.phone).where(
    persons.c.email.in_(bindparam("emails", expanding=True))
)
_PEOPLE_BY_PHONE = select(persons.c.id, persons.c.email, persons.c.phone).where(
    persons.c.phone.in_(bindparam("phones", expanding=True))
)


_PEOPLE_BY_ID = select(persons.c.id, persons.c.email, persons.c.phone).where(
    persons.c.id.in_(bindparam("ids", expanding=True))
)


def _people_by_identifier(
    connection: Connection, pairs: list[tuple[str | None, str | None]]
) -> dict[tuple[str, str], Any]:
    emails = sorted({email for email, _ in pairs if email})
    phones = sorted({phone for _, phone in pairs if phone})
    known: dict[tuple[str, str], Any] = {}
    if emails:
        for row in connection.execute(_PEOPLE_BY_EMAIL, {"emails": emails}):
            known[("email", row.email)] = row
    if phones:
        for row in connection.execute(_PEOPLE_BY_PHONE, {"phones": phones}):
            known[("phone", row.phone)] = row
    return known


def _remember(known: dict[tuple[str, str], Any], row: Any) -> None:
    if row.email:
        known[("email", row.email)] = row
    if row.phone:
        known[("phone", row.phone)] = row


def _match(known: dict[tuple[str, str], Any], pair: tuple[str | None, str | None]) -> Any:
    email, phone = pair
    return (email and known.get(("email", email))) or (phone and known.get(("phone", phone))) or None
