"""`POST /v1/decisions` and its batch: the engine's answer on what the request says, merged with what Consentry
knows of the person (the ledger, the suppression list, the call log), where what Consentry knows wins whenever it
is stricter: an opt-out on file always wins, call counts take the larger, a later refusal date the later."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from flask import current_app

from consentry.sdk.consent_state import ConsentEvent, ConsentStatus, EventKind, derive_state
from consentry.sdk.countries import jurisdiction_of_country
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.facts import Facts
from consentry.sdk.models import Contact, Request
from consentry.sdk.rules import evaluate
from consentry.sdk.scenarios import sender_of
from consentry.sdk.scheduling import next_lawful_call
from consentry.sdk.store import persons
from consentry.sdk.store.driver_sql import DriverSql
from consentry.sdk.store.engine import brief_reads
from consentry.sdk.suppression import Suppression
from consentry.sdk.telephone import zone_of_number
from consentry.sdk.vocabulary import Action, Channel

from . import records
from .auth import requires
from .problems import ApiBlueprint, invalid_input
from .schemas import (
    DecisionBatchRequestSchema,
    DecisionBatchSchema,
    DecisionQuery,
    DecisionRequestSchema,
    DecisionSchema,
)

blueprint = ApiBlueprint(
    "api_decisions",
    __name__,
    url_prefix="/v1/decisions",
    description="May we contact this person, by this channel, now, and on what conditions? (scope `decide`)",
)

_CALLS = (Channel.PHONE_HUMAN, Channel.AUTOMATED_CALL)


@blueprint.route("", methods=["POST"])
@requires("decide")
@blueprint.arguments(DecisionRequestSchema())
@blueprint.response(200, DecisionSchema())
def decide_one(query: DecisionQuery):
    """Decide one contact."""
    return decide(current_app.extensions["consentry"].runtime, [query])[0]


@blueprint.route("/batch", methods=["POST"])
@requires("decide")
@blueprint.arguments(DecisionBatchRequestSchema())
@blueprint.response(200, DecisionBatchSchema())
def decide_batch(body: dict[str, Any]):
    """Decide up to 1,000 contacts, answered in the order given."""
    return {"decisions": decide(current_app.extensions["consentry"].runtime, body["contacts"])}


@dataclass(frozen=True)
class _Known:
    """What Consentry holds about one person: their ledger events, the suppression list's entry, call facts."""

    events: Sequence[ConsentEvent]
    suppression: Suppression | None
    calls: Mapping[str, Any]


def decide(runtime, queries: Sequence[DecisionQuery]) -> list[dict[str, Any]]:
    """One answer per query, in order; the ledger and the suppression list are read once for the whole batch."""
    known = _known(runtime, queries)
    answers = []
    for position, (query, held) in enumerate(zip(queries, known, strict=True)):
        try:
            answers.append(_decide_one(runtime, query, held))
        except InvalidInputError as error:
            raise invalid_input(error, f"contacts.{position}" if len(queries) > 1 else "") from None
    return answers


def _known(runtime, queries: Sequence[DecisionQuery]) -> list[_Known]:
    """What Consentry holds about each query's person, read in bulk: one query for the people, one for their
    events, the suppression list's batch lookup, one grouped query for the call log (per advertiser and moment)."""
    services = runtime.services
    people = [(query.email, query.phone) for query in queries]
    now = datetime.now(UTC)
    with brief_reads(services.engine) as connection:  # one checkout for the four reads (and on SQLite one snapshot)
        named = _people_named(connection, people)
        ids = [_chosen(found, email) for (email, _), found in zip(people, named, strict=True)]
        asked = [
            (set(found.values()), query.advertiser or runtime.advertiser, query.at or now)
            for query, found in zip(queries, named, strict=True)
        ]
        calls = records.call_facts_many(connection, asked)
        on_file = sorted({person for person in ids if person is not None})
        history = services.ledger.events_of_people(on_file, within=connection)
        listed = services.suppression.of_people(people, within=connection)
    held = []
    for (email, phone), person, entry, facts in zip(people, ids, listed, calls, strict=True):
        events = history.get(person, []) if person is not None else []
        held.append(_Known(events, entry, facts if email or phone else {}))
    return held


_CHUNK = 500
_PERSON_COLUMNS = (persons.c.id, persons.c.email, persons.c.phone)


def _people_named(connection, people: Sequence[tuple[str | None, str | None]]) -> list[dict[str, int]]:
    """Per (email, phone), the ids of the people either names, keyed "email" and "phone" (one person may be both,
    two when the email and the number were recorded apart). On the driver's connection: see `DriverSql`."""
    sql = DriverSql(connection)
    by_email: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    emails = sorted({email for email, _ in people if email})
    phones = sorted({phone for _, phone in people if phone})
    for start in range(0, max(len(emails), len(phones)), _CHUNK):
        conditions, values = [], []
        for column, wanted in (
            (persons.c.email, emails[start : start + _CHUNK]),
            (persons.c.phone, phones[start : start + _CHUNK]),
        ):
            if wanted:  # an empty `IN ()` beside OR made SQLite scan every person
                condition, bound = sql.one_of(column, wanted)
                conditions.append(condition)
                values.extend(bound)
        statement = f"SELECT id, email, phone FROM persons WHERE {' OR '.join(conditions)}"
        for person, email, phone in sql.rows(statement, values, _PERSON_COLUMNS):
            if email is not None:
                by_email[email] = person
            if phone is not None:
                by_phone[phone] = person
    named = []
    for email, phone in people:
        found = {}
        if email and email in by_email:
            found["email"] = by_email[email]
        if phone and phone in by_phone:
            found["phone"] = by_phone[phone]
        named.append(found)
    return named


def _chosen(found: dict[str, int], email: str | None) -> int | None:
    """The one person whose ledger answers: the email's, else the number's. `ensure_people` prefers the email
    too, and so did `find_person` on SQLite; on PostgreSQL its unordered `LIMIT 1` returned either of the two people
    when the email and the number were recorded apart (in practice the older), now the email's on both."""
    return found.get("email", found.get("phone"))


def _moment(query: DecisionQuery) -> datetime:
    return query.at or datetime.now(UTC)


def _decide_one(runtime, query: DecisionQuery, known: _Known) -> dict[str, Any]:
    at = _moment(query)
    advertiser = query.advertiser or runtime.advertiser
    facts = merged_facts(query.facts, known, channel=query.channel, advertiser=advertiser, at=at)
    zone = query.time_zone or facts.callee_timezone
    wants_zone = zone is None and query.channel.uses_phone_number
    # parsed once (on loading), and only when the number must answer something: parsing is most of its cost
    number = (query.number or _parsed(query.phone)) if query.jurisdiction is None or wants_zone else None
    jurisdiction = query.jurisdiction or _jurisdiction_of_number(number)
    if wants_zone and number is not None:
        try:
            zone = zone_of_number(number)
        except InvalidInputError:
            zone = None  # a number spanning several zones: the rules read the offset of `at`, or ask for it
    contact = Contact(
        audience=query.audience,
        jurisdiction=jurisdiction,
        time_zone=zone,
        facts=facts,
        email=query.email,
        phone=query.phone,
    )
    request = Request(contact=contact, channel=query.channel, at=at, action=Action.SEND, sender=sender_of(facts))
    decision = evaluate(request)
    answer: dict[str, Any] = {
        "decision": decision.verdict,
        "reasons": list(decision.reasons),  # dumped once per distinct reason (schemas.Memoized)
        "conditions": list(decision.conditions),
        "legal_basis": decision.legal_basis,
        "valid_until": decision.valid_until,
        "missing_facts": list(decision.missing_facts),
        "jurisdiction": jurisdiction,
    }
    if query.channel in _CALLS:
        answer["next_lawful_call"] = at if decision.allowed else next_lawful_call(request)
    return answer


def _parsed(phone: str | None) -> phonenumbers.PhoneNumber | None:
    """A query's number in E.164 parsed, for a query built without its parsed `number`; None without one."""
    if not phone:
        return None
    try:
        return phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None


def _jurisdiction_of_number(number: phonenumbers.PhoneNumber | None) -> str | None:
    """The country of a number, when Consentry has rules for it (+49... is DE, +44... UK)."""
    if number is None:
        return None
    return jurisdiction_of_country(phonenumbers.region_code_for_number(number))


# -- the merge ------------------------------------------------------------------------------------------------------


def merged_facts(given: Facts, known: _Known, *, channel: Channel, advertiser: str, at: datetime) -> Facts:
    """The request's facts with what Consentry knows laid over them, the stricter of the two winning."""
    values: dict[str, Any] = {**dict.fromkeys(given.unknown), **dict(given)}
    today = at.date()
    for key, value in known.calls.items():  # typed already (records.call_facts_many)
        values[key] = _stricter(values.get(key), value)
    if channel is not Channel.ANY:
        _ledger(values, known.events, channel=channel, advertiser=advertiser, at=at)
        if known.suppression is not None and known.suppression.covers(channel.value):
            # on file now, whatever day `at` names: never an objection yet to come
            values["on_suppression_list"] = True
            listed_on = min(known.suppression.added_on, today)
            values["suppression_date"] = _earliest(values.get("suppression_date"), listed_on)
    return Facts(values)


def _ledger(values: dict[str, Any], events: Sequence[ConsentEvent], *, channel: Channel, advertiser: str, at) -> None:
    # a consent given after `at` does not yet hold at `at`; an opt-out on file holds whenever it was recorded
    relevant = [event for event in events if event.occurred_at <= at or event.kind.opts_out]
    state = derive_state(relevant, channel=channel.value, advertiser=advertiser)
    if state.status is ConsentStatus.OPTED_OUT:
        day = min(state.since.date(), at.date()) if state.since else at.date()
        values["consent_state"] = "withdrawn"
        values["withdrawal_date"] = _earliest(values.get("withdrawal_date"), day)
        deciding = next((event for event in relevant if event.event_key == state.event_key), None)
        if deciding is not None and deciding.kind is EventKind.OBJECTED:
            values["objected"] = True
            values["objection_date"] = _earliest(values.get("objection_date"), day)
    elif state.status is ConsentStatus.GRANTED and values.get("consent_state") is None:
        # the request says nothing of consent (or does not know it): the ledger's provable grant answers
        values["consent_state"] = "opt_in"
        if values.get("consent_date") is None and state.since is not None:
            values["consent_date"] = state.since.date()


def _earliest(given: date | None, known: date) -> date:
    return known if given is None else min(given, known)


def _stricter(given: Any, known: Any) -> Any:
    """Two values of one fact, the request's and the call log's: a count the larger, a yes over a no, a later
    date (a refusal, an objection) over an earlier one; otherwise what Consentry knows."""
    if given is None:
        return known
    if isinstance(known, bool) and isinstance(given, bool):
        return given or known
    if isinstance(known, int) and isinstance(given, int):
        return max(given, known)
    if isinstance(known, date) and isinstance(given, date) and type(known) is type(given):
        return max(given, known)
    if isinstance(known, tuple) and isinstance(given, tuple):
        return tuple(dict.fromkeys((*given, *known)))
    return known
