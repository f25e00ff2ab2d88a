"""What the public API records: consents with their proof, the dialers' call attempts, and what it reads back.

A withdrawal or objection takes the webhooks' durable path (`consentry.webhook_server.inbox.record`): its ledger
event, its suppression entry and one propagation job per connected system are committed in one transaction before
the function returns, so before any 2xx. A call reported refused, or "do not call again", is such an objection to
phone calls. No Flask here, and no email address or phone number in an error's text.
"""

import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from consentry.connectors.base import InboundEvent
from consentry.sdk.consent_state import ConsentEvent, EventKind
from consentry.sdk.erasure import erased_strangers
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.ledger import Ledger
from consentry.sdk.persons import identifiers, resolve_people
from consentry.sdk.store import call_log, consent_events, insert_ignoring_duplicates, persons, reading
from consentry.sdk.store.driver_sql import DriverSql
from consentry.sdk.store.engine import write_lock

from ..inbox import Delivery, record
from ..runtime import Runtime

__all__ = [
    "KINDS",
    "OUTCOMES",
    "REFUSALS",
    "SOURCE_SYSTEM",
    "Recorded",
    "call_facts",
    "call_facts_many",
    "log_call",
    "proof_of",
    "record_consent",
]

OUTCOMES = ("no_answer", "answered", "refused", "do_not_call_again")
REFUSALS = frozenset({"refused", "do_not_call_again"})  # an objection to phone calls, said during the call
KINDS = {"granted": EventKind.GRANTED, "withdrawn": EventKind.WITHDRAWN, "objected": EventKind.OBJECTED}
SOURCE_SYSTEM = "api"
CALL_CHANNEL = "phone_human"
CAP_WINDOW = timedelta(days=30)
_EVENT_KEY_LENGTH = 200
_CALL_KEY_LENGTH = _EVENT_KEY_LENGTH - len(":objection")  # a refusal's objection is keyed after its call
_PROOF_LIMITS = {"wording_version": 60, "ip": 64, "collection_point": 2000, "wording": 10_000, "user_agent": 1000}
_PROOF = ("collection_point", "wording", "wording_version", "method", "ip", "user_agent")


@dataclass(frozen=True)
class Recorded:
    event_key: str
    new: bool  # False for a replay of the same event key (or a person erased, whom nothing is recorded about)


def record_consent(
    runtime: Runtime,
    *,
    email: str | None,
    phone: str | None,
    channel: str,
    kind: str,
    advertiser: str,
    occurred_at: datetime,
    event_key: str,
    collection_point: str | None = None,
    wording: str | None = None,
    wording_version: str | None = None,
    method: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Recorded:
    """Record a consent given (with its proof: collection point, wording, method), withdrawn or objected to.

    Every input is checked before anything is written. An opt-out is committed with its suppression entry and a
    propagation job for every connected system; a replayed event key changes nothing."""
    email, phone = identifiers(email, phone)
    proof = _proof(
        collection_point=collection_point,
        wording=wording,
        wording_version=wording_version,
        method=method,
        ip=ip,
        user_agent=user_agent,
    )
    event = _event(kind, channel, advertiser, occurred_at, event_key, proof)
    services = runtime.services
    if not event.kind.opts_out:
        for name in ("collection_point", "wording", "method"):
            if not proof[name]:
                raise InvalidInputError("a consent needs its proof: collection_point, wording and method", field=name)
        with write_lock(services.engine), services.engine.begin() as connection:
            if not event.is_provable and erased_strangers(connection, services.suppression, [(email, phone)])[0]:
                return Recorded(event.event_key, new=False)  # only an explicit, provable consent brings them back
            (recorded,) = services.ledger.append_in(connection, [(event, email, phone)])
        return Recorded(event.event_key, new=recorded.is_new)
    with write_lock(services.engine), services.engine.begin() as connection:
        new = _opt_out(connection, runtime, event, email, phone)
    return Recorded(event.event_key, new=new)


def log_call(
    runtime: Runtime,
    *,
    phone: str,
    advertiser: str,
    called_at: datetime,
    outcome: str,
    event_key: str,
    email: str | None = None,
) -> Recorded:
    """Log one call attempt (once per event key); a refusal is also recorded, in the same transaction, as an
    objection to phone calls, propagated like any other."""
    if not phone:
        raise InvalidInputError("a phone number is required", field="phone")
    email, number = identifiers(email, phone)
    if outcome not in OUTCOMES:
        raise InvalidInputError(f"unknown outcome; use one of {', '.join(OUTCOMES)}", field="outcome")
    if not isinstance(event_key, str) or not 0 < len(event_key) <= _CALL_KEY_LENGTH:
        raise InvalidInputError(f"event_key must be 1 to {_CALL_KEY_LENGTH} characters", field="event_key")
    _check_advertiser(advertiser)
    called_at = _aware(called_at, "called_at")
    objection = None
    if outcome in REFUSALS:
        objection = _event("objected", CALL_CHANNEL, advertiser, called_at, f"{event_key}:objection", {})
    services = runtime.services
    now = datetime.now(UTC)
    with write_lock(services.engine), services.engine.begin() as connection:
        erased = erased_strangers(connection, services.suppression, [(email, number)])[0]
        # An erased person is not stored again in clear: the attempt is logged naming nobody, and the suppression
        # list already holds them for every channel.
        person_id = None if erased else resolve_people(connection, [(email, number)]).ids[0]
        inserted = connection.execute(
            insert_ignoring_duplicates(connection, call_log)
            .values(
                person_id=person_id,
                advertiser=advertiser,
                event_key=event_key,
                outcome=outcome,
                called_at=called_at.astimezone(UTC),
                recorded_at=now,
            )
            .returning(call_log.c.id)
        ).first()
        new = inserted is not None
        if new and objection is not None and not erased:
            _opt_out(connection, runtime, objection, email, number)
    return Recorded(event_key, new=new)


def call_facts(
    engine: Engine, *, email: str | None, phone: str | None, advertiser: str, at: datetime
) -> dict[str, Any]:
    """The rules' facts the call log gives for this person and advertiser at `at`: `calls_in_last_30_days` (every
    attempt, whatever its outcome, in the 30 days up to `at`) and, when a call was refused,
    `refused_during_call_date` (the day of the latest refusal, in `at`'s time zone)."""
    email, phone = identifiers(email, phone)
    at = _aware(at, "at")
    with reading(engine) as connection:
        people = _people(connection, email, phone)
        if not people:
            return {"calls_in_last_30_days": 0}
        mine = (call_log.c.person_id.in_(people), call_log.c.advertiser == advertiser)
        until = at.astimezone(UTC)
        count = connection.execute(
            select(func.count())
            .select_from(call_log)
            .where(*mine, call_log.c.called_at > until - CAP_WINDOW, call_log.c.called_at <= until)
        ).scalar_one()
        refused = connection.execute(
            select(func.max(call_log.c.called_at)).where(
                *mine, call_log.c.outcome.in_(sorted(REFUSALS)), call_log.c.called_at <= until
            )
        ).scalar()
    facts: dict[str, Any] = {"calls_in_last_30_days": int(count)}
    if refused is not None:
        facts["refused_during_call_date"] = _day(refused, at)
    return facts


def call_facts_many(
    connection: Connection, asked: Sequence[tuple[Collection[int], str, datetime]]
) -> list[dict[str, Any]]:
    """`call_facts` for many questions at once, each (the ids of the people it names, advertiser, aware `at`): one
    grouped query per distinct (advertiser, `at`), a single one when a batch shares them. The answers, in order."""
    answers: list[dict[str, Any]] = [{"calls_in_last_30_days": 0} for _ in asked]
    groups: dict[tuple[str, datetime], list[int]] = {}
    for position, (people, advertiser, at) in enumerate(asked):
        at = _aware(at, "at")
        if people:
            groups.setdefault((advertiser, at.astimezone(UTC)), []).append(position)
    for (advertiser, until), positions in groups.items():
        ids = sorted({person for position in positions for person in asked[position][0]})
        counted: dict[int, int] = {}
        refused: dict[int, datetime] = {}
        for start in range(0, len(ids), _CHUNK):
            for person, count, latest in _calls_of_people(connection, ids[start : start + _CHUNK], advertiser, until):
                counted[person] = int(count or 0)
                if latest is not None:
                    refused[person] = latest
        for position in positions:
            people, _, at = asked[position]
            facts: dict[str, Any] = {"calls_in_last_30_days": sum(counted.get(person, 0) for person in set(people))}
            latest = [refused[person] for person in set(people) if person in refused]
            if latest:
                facts["refused_during_call_date"] = _day(max(latest), at)
            answers[position] = facts
    return answers


_CHUNK = 500


def _calls_of_people(connection: Connection, ids: list[int], advertiser: str, until: datetime) -> list[tuple[Any, ...]]:
    """Per person, the attempts in the 30 days up to `until` and the latest refusal up to `until`; on the driver's
    connection, since every decision asks (see `DriverSql`)."""
    sql = DriverSql(connection)
    when = call_log.c.called_at
    since, since_value = sql.value(when, until - CAP_WINDOW)
    refusals, refusal_values = sql.one_of(call_log.c.outcome, sorted(REFUSALS))
    people, people_values = sql.one_of(call_log.c.person_id, ids)
    of_advertiser, advertiser_value = sql.value(call_log.c.advertiser, advertiser)
    up_to, until_value = sql.value(when, until)
    statement = (
        f"SELECT person_id, SUM(CASE WHEN called_at > {since} THEN 1 ELSE 0 END),"
        f" MAX(CASE WHEN {refusals} THEN called_at END) FROM call_log"
        f" WHERE {people} AND advertiser = {of_advertiser} AND called_at <= {up_to} GROUP BY person_id"
    )
    parameters = [*since_value, *refusal_values, *people_values, *advertiser_value, *until_value]
    return sql.rows(statement, parameters, (call_log.c.person_id, None, when))


def proof_of(engine: Engine, *, email: str | None, phone: str | None) -> list[dict[str, Any]]:
    """The person's ledger events with their proof, oldest first; [] for a person unknown (or erased)."""
    events = Ledger(engine).events(email=email, phone=phone)
    ordered = sorted(events, key=lambda event: (event.occurred_at, event.event_key))
    return [
        {
            "event_key": event.event_key,
            "kind": event.kind.value,
            "channel": event.channel,
            "advertiser": event.advertiser,
            "occurred_at": event.occurred_at.isoformat(),
            "recorded_at": event.recorded_at.isoformat() if event.recorded_at else None,
            "source_system": event.source_system,
            "collection_point": event.collection_point,
            "wording": event.wording,
            "wording_version": event.wording_version,
            "method": event.method,
        }
        for event in ordered
    ]


def _opt_out(
    connection: Connection, runtime: Runtime, event: ConsentEvent, email: str | None, phone: str | None
) -> bool:
    """Inside the caller's transaction, the webhooks' own path: ledger event, suppression entry, one job per
    connected system. Whether the event is new."""
    delivery = Delivery(
        [
            InboundEvent(
                event_key=event.event_key,
                kind=event.kind,
                channel=event.channel,
                occurred_at=event.occurred_at,
                system=SOURCE_SYSTEM,
                email=email,
                phone=phone,
                origin="api",
                vendor_type="api",
            )
        ],
        targets=list(runtime.connectors),
    )
    record(connection, runtime.services, [delivery], advertiser=event.advertiser, echo_window=runtime.echo_window)
    new = delivery.result.new_events == 1
    proof = {name: getattr(event, name) for name in _PROOF if getattr(event, name) is not None}
    if new and proof:  # the row this transaction just wrote: its proof, which the inbox's events do not carry
        connection.execute(consent_events.update().where(consent_events.c.event_key == event.event_key).values(proof))
    return new


def _event(
    kind: str, channel: str, advertiser: str, occurred_at: datetime, event_key: str, proof: dict[str, Any]
) -> ConsentEvent:
    """The event as the ledger will hold it, every field checked (ConsentEvent checks key, channel, method)."""
    if kind not in KINDS:
        raise InvalidInputError(f"unknown kind; use one of {', '.join(KINDS)}", field="kind")
    if not isinstance(channel, str):
        raise InvalidInputError("channel must be a string", field="channel")
    if not isinstance(event_key, str):
        raise InvalidInputError("event_key must be a string", field="event_key")
    _check_advertiser(advertiser)
    return ConsentEvent(
        event_key=event_key,
        kind=KINDS[kind],
        channel=channel,
        occurred_at=_aware(occurred_at, "occurred_at"),
        source_system=SOURCE_SYSTEM,
        advertiser=advertiser,
        **proof,
    )


def _proof(**given: str | None) -> dict[str, str | None]:
    proof: dict[str, str | None] = {}
    for name, value in given.items():
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"{name} must be a string", field=name)
        value = value.strip() if value else None
        limit = _PROOF_LIMITS.get(name)
        if value and limit and len(value) > limit:
            raise InvalidInputError(f"{name} is at most {limit} characters", field=name)
        proof[name] = value or None
    if proof["ip"]:
        try:
            ipaddress.ip_address(proof["ip"])
        except ValueError:
            raise InvalidInputError("ip is not an IP address", field="ip") from None
    return proof


def _check_advertiser(advertiser: str) -> None:
    if not isinstance(advertiser, str) or not 0 < len(advertiser.strip()) <= 120:
        raise InvalidInputError("advertiser must be 1 to 120 characters", field="advertiser")


def _aware(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidInputError(f"{name} must be a date and time", field=name)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(f"{name} needs a time zone", field=name)
    return moment


def _people(connection: Connection, email: str | None, phone: str | None) -> list[int]:
    """Everyone either identifier names (two people when the email and the number were recorded apart)."""
    conditions = []
    if email:
        conditions.append(persons.c.email == email)
    if phone:
        conditions.append(persons.c.phone == phone)
    return list(connection.execute(select(persons.c.id).where(or_(*conditions))).scalars())


def _day(moment: datetime, at: datetime) -> date:
    return moment.astimezone(at.tzinfo).date()
