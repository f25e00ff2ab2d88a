"""The consent ledger: an append-only, idempotent log of consent events with their proof.

Appending the same event key twice records one event (a webhook delivered twice). The current state is always
derived from the log (see consent_state), never stored as the only truth.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from .consent_state import ConsentEvent, ConsentState, ConsentStatus, EventKind, derive_state
from .identity import IdentifierKind
from .persons import People, find_person, identifiers, resolve_people
from .store import consent_events, insert_ignoring_duplicates, persons, reading
from .store.driver_sql import DriverSql
from .suppression import Addition, Lift, SuppressionList

_EVENT_COLUMNS = tuple(field.name for field in fields(ConsentEvent))


@dataclass(frozen=True)
class Recorded:
    event: ConsentEvent
    person_id: int
    is_new: bool
    new_person: bool = False  # created by this transaction: nothing else was ever recorded about them


class Ledger:
    """With a suppression list, every opt-out lands on it in the same transaction, and a newer provable consent
    lifts it for its channel only."""

    def __init__(self, engine: Engine, suppression: SuppressionList | None = None):
        self.engine = engine
        self.suppression = suppression

    def append(self, event: ConsentEvent, *, email: str | None = None, phone: str | None = None) -> bool:
        """Record one event for the person with these identifiers; False when its key was already recorded."""
        return self.append_many([(event, email, phone)]) == 1

    def append_many(self, items: Iterable[tuple[ConsentEvent, str | None, str | None]]) -> int:
        """Record events in one transaction (all or nothing); returns how many were new."""
        prepared = [(event, *identifiers(email, phone)) for event, email, phone in items]
        with self.engine.begin() as connection:
            return sum(recorded.is_new for recorded in self.append_in(connection, prepared))

    def append_in(
        self, connection: Connection, prepared: Sequence[tuple[ConsentEvent, str | None, str | None]]
    ) -> list["Recorded"]:
        """Record (event, normalised email, normalised phone) triples inside the caller's transaction, so that
        callers (the webhook inbox) commit the events and their own rows together or not at all.

        Set-based: a few statements for the whole batch, whatever its size (the inbox and the sync send many)."""
        if not prepared:
            return []
        now = datetime.now(UTC)
        people = resolve_people(connection, [(email, phone) for _, email, phone in prepared])
        rows, first_seen = [], set()
        for (event, _, _), person_id in zip(prepared, people.ids, strict=True):
            if event.event_key in first_seen:
                continue  # the same delivery twice in one batch: the first one counts
            first_seen.add(event.event_key)
            row = {name: getattr(event, name) for name in _EVENT_COLUMNS}
            row.update(
                person_id=person_id,
                kind=event.kind.value,
                occurred_at=event.occurred_at.astimezone(UTC),
                recorded_at=(event.recorded_at or now).astimezone(UTC),
            )
            rows.append(row)
        statement = insert_ignoring_duplicates(connection, consent_events).returning(consent_events.c.event_key)
        inserted = set(connection.execute(statement, rows).scalars())
        recorded = []
        for (event, _, _), person_id in zip(prepared, people.ids, strict=True):
            is_new = event.event_key in inserted
            inserted.discard(event.event_key)  # a repeat later in the batch is a duplicate
            recorded.append(Recorded(event, person_id, is_new, person_id in people.created))
        if self.suppression is not None:
            new = [r for r in recorded if r.is_new]
            keys = {r.event.event_key for r in new}
            written = [row for row in rows if row["person_id"] in people.created and row["event_key"] in keys]
            self._follow_states(connection, self.suppression, new, people, written)
        return recorded

    def _follow_states(
        self,
        connection: Connection,
        suppression: SuppressionList,
        new: list["Recorded"],
        people: People,
        created_rows: list[dict[str, Any]],
    ) -> None:
        """Keep the suppression list in line with the states the log now gives for the channels just touched.

        A state is the person's, so every identifier the person has is suppressed, not only the one the event
        came with; a newer provable consent lifts the suppression of its channel only. The history of a person
        this transaction created is the rows just written for them: no need to read it back."""
        if not new:
            return
        known_before = sorted({r.person_id for r in new} - people.created)
        history = _events_of_people(connection, known_before) if known_before else {}
        for row in created_rows:
            history.setdefault(row["person_id"], []).append(_event_from_values(row))
        new_keys = {r.event.event_key for r in new}
        adds: list[Addition] = []
        lifts: list[Lift] = []
        scopes = dict.fromkeys((r.person_id, r.event.advertiser, r.event.purpose, r.event.channel) for r in new)
        for person_id, advertiser, purpose, channel in scopes:
            events = history.get(person_id, [])
            state = _derive(events, advertiser, purpose, channel)
            email, phone = people.identifiers[person_id]
            identities = [(k, v) for k, v in ((IdentifierKind.EMAIL, email), (IdentifierKind.PHONE, phone)) if v]
            if state.status is ConsentStatus.OPTED_OUT:
                deciding = next((e for e in events if e.event_key == state.event_key), None)
                objected = deciding is not None and deciding.kind is EventKind.OBJECTED
                reason = "GDPR_OBJECTION_ABSOLUTE" if objected else "FR_CONSENT_WITHDRAWN"
                adds.extend((kind, value, frozenset({channel}), reason) for kind, value in identities)
            elif state.status is ConsentStatus.GRANTED and state.provable and state.event_key in new_keys:
                lifts.extend((value, channel) for _, value in identities)
        suppression.apply_in(connection, adds, lifts)

    def events(
        self, *, email: str | None = None, phone: str | None = None, within: Connection | None = None
    ) -> list[ConsentEvent]:
        email, phone = identifiers(email, phone)
        with reading(self.engine, within) as connection:
            person_id = find_person(connection, email, phone)
            if person_id is None:
                return []
            return _events_of(connection, person_id)

    def events_of_people(
        self, person_ids: list[int], within: Connection | None = None
    ) -> dict[int, list[ConsentEvent]]:
        """Each person's events, for many people in one query (the sync's pages); `within`: see `reading`."""
        if not person_ids:
            return {}
        with reading(self.engine, within) as connection:
            return _events_of_people(connection, person_ids)

    def state(
        self, *, channel: str, advertiser: str, email: str | None = None, phone: str | None = None, **scope: str
    ) -> ConsentState:
        return derive_state(self.events(email=email, phone=phone), channel=channel, advertiser=advertiser, **scope)

    def proof(
        self, *, email: str | None = None, phone: str | None = None, within: Connection | None = None
    ) -> dict[str, Any]:
        """Everything the ledger holds about one person, as evidence: events with their proof, and the states.
        `within`: see `reading`."""
        email, phone = identifiers(email, phone)
        with reading(self.engine, within) as connection:
            person_id = find_person(connection, email, phone)
            person = connection.execute(select(persons).where(persons.c.id == person_id)).one_or_none()
            events = _events_of(connection, person_id) if person_id is not None else []
        scopes = sorted({(e.advertiser, e.purpose, e.channel) for e in events})
        return {
            "person": {"email": person.email, "phone": person.phone} if person else None,
            "events": [_event_dict(event) for event in events],
            "states": [
                {"advertiser": a, "purpose": p, "channel": c, **_state_dict(_derive(events, a, p, c))}
                for a, p, c in scopes
            ],
            "exported_at": datetime.now(UTC).isoformat(),
        }


def _derive(events: list[ConsentEvent], advertiser: str, purpose: str, channel: str) -> ConsentState:
    return derive_state(events, channel=channel, advertiser=advertiser, purpose=purpose)


_EVENT_SQL_COLUMNS = [consent_events.c[name] for name in _EVENT_COLUMNS]
_EVENTS_OF_PEOPLE = f"SELECT person_id, {', '.join(_EVENT_COLUMNS)} FROM consent_events WHERE "
_CHUNK = 500


def _events_of_people(connection: Connection, person_ids: list[int]) -> dict[int, list[ConsentEvent]]:
    """On the driver's connection (`DriverSql`): the webhook inbox, the sync's pages and every decision read here."""
    sql = DriverSql(connection)
    history: dict[int, list[ConsentEvent]] = {}
    for start in range(0, len(person_ids), _CHUNK):
        wanted, parameters = sql.one_of(consent_events.c.person_id, person_ids[start : start + _CHUNK])
        rows = sql.rows(
            f"{_EVENTS_OF_PEOPLE}{wanted} ORDER BY id", parameters, [consent_events.c.person_id, *_EVENT_SQL_COLUMNS]
        )
        for person, *values in rows:
            history.setdefault(person, []).append(_event_from_values(dict(zip(_EVENT_COLUMNS, values, strict=True))))
    return history


def _events_of(connection: Connection, person_id: int) -> list[ConsentEvent]:
    return _events_of_people(connection, [person_id]).get(person_id, [])


def _event_from_values(stored: dict[str, Any]) -> ConsentEvent:
    values = {name: stored[name] for name in _EVENT_COLUMNS}
    values["kind"] = EventKind(values["kind"])
    return _trusted(values)


def _trusted(values: dict[str, Any]) -> ConsentEvent:
    """Rebuild a stored event without re-validating it (it was validated on the way in)."""
    event = object.__new__(ConsentEvent)
    for name, value in values.items():
        object.__setattr__(event, name, value)
    return event


def _event_dict(event: ConsentEvent) -> dict[str, Any]:
    values = {name: getattr(event, name) for name in _EVENT_COLUMNS}
    return {name: _plain(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return None if value is None else str(value)


def _state_dict(state: ConsentState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "since": state.since.isoformat() if state.since else None,
        "event_key": state.event_key,
        "provable": state.provable,
    }
