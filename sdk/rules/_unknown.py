"""Fail closed on facts nobody knows: a fact given as unknown reads as the least favourable of its values.

A key given as null (or an empty CSV cell) is a fact nobody knows, unlike a key left out, which the case does not
need. For each unknown fact that the catalogue marks `against` (docs/rules/facts.md), the request is decided again
with the fact set to each value it could take: both answers of a yes/no, the oldest date and today, none and very
many of a count, every word of a closed vocabulary, and for open text the words the rules act on. The least
permissive decision stands, naming the facts to provide. So an unknown fact can never make a decision more
permissive than some value of it would: the principle holds for every jurisdiction and rule, present and future,
without each rule having to remember it.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, time
from functools import cache
from itertools import product
from math import prod
from typing import Any, get_type_hints

from .. import facts as fact_types
from ..catalogue import WhenUnknown
from ..catalogue import facts as fact_catalogue
from ..decision import Decision, Effect, Reason, make_reason
from ..models import Request
from ..vocabulary import Verdict
from ._common import INVALID_MECHANISMS, NATURAL_PERSON_FORMS, SUPPRESSION_PURPOSES
from .fr.lifecycle import OPEN_EVENTS
from .fr.messages import BANNED_SECTORS
from .fr.phone import PRESS_OFFERS

RANK = {Verdict.FORBIDDEN: 0, Verdict.ALLOWED_WITH_CONDITIONS: 1, Verdict.ALLOWED: 2}
MANY = 100_000
COMBINATIONS = 512  # decisions tried at most per request; beyond, the unknown facts are asked for
FAR_ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago")  # UTC+14 and UTC-11: one of them is outside any window
# Open text: the words the rules act on, and one they do not.
OPEN_WORDS: dict[str, tuple[str, ...]] = {
    "consent_mechanism": tuple(sorted(INVALID_MECHANISMS)),
    "reoptin_mechanism": tuple(sorted(INVALID_MECHANISMS)),
    "sector": tuple(sorted(BANNED_SECTORS)),
    "action_detail": ("sell_customer_file", "rent_customer_file"),
    "last_interaction_type": tuple(sorted(OPEN_EVENTS)),
    "recipient_legal_form": tuple(sorted(NATURAL_PERSON_FORMS)),
    "purpose": ("prospecting", *sorted(SUPPRESSION_PURPOSES)),
    "offer": tuple(sorted(PRESS_OFFERS)),
    "segment": ("inactive_since_1900",),
    "collection_method": ("web_scraping",),
}
OPEN_LISTS: dict[str, tuple[str, ...]] = {
    "missing": ("consent_proof",),
    "fields_collected": ("email", "phone", "postal_address", "name", "date_of_birth", "income", "health"),
    "suppression_entry_fields": ("email", "phone", "name", "postal_address", "date", "channel", "comments"),
}


def against_unknowns(request: Request) -> tuple[str, ...]:
    """The unknown facts of this request that count against the contact."""
    unknown = request.facts.unknown
    if not unknown:
        return ()
    catalogue = fact_catalogue()
    return tuple(sorted(k for k in unknown if catalogue[k].when_unknown is WhenUnknown.AGAINST))


def fail_closed(
    request: Request, decision: Decision, unknowns: tuple[str, ...], decide: Callable[[Request], Decision]
) -> Decision:
    """The least permissive of `decision` and the decisions with the unknown facts set to every combination of
    their values (unknown facts act together: an unknown source and an unknown objection make a transfer). Past
    COMBINATIONS, the request is forbidden until the facts are given: fail closed, at a bounded cost."""
    choices = [candidates(key, request) for key in unknowns]
    if prod(len(values) for values in choices) > COMBINATIONS:
        return _named(decision, _too_many(), unknowns)
    worst = decision
    for values in product(*choices):
        other = decide(_with_facts(request, dict(zip(unknowns, values, strict=True))))
        if RANK[other.verdict] < RANK[worst.verdict]:
            worst = other
            if worst.verdict is Verdict.FORBIDDEN:
                break
    if worst is decision:
        return decision
    return _named(decision, worst, unknowns)


def _too_many() -> Decision:
    return Decision(Verdict.FORBIDDEN, (), ())


def _named(decision: Decision, worst: Decision, culprits: tuple[str, ...]) -> Decision:
    detail = ", ".join(culprits)
    if worst.verdict is Verdict.FORBIDDEN:
        missing = make_reason("FACTS_MISSING", Effect.BLOCKS, f"unknown: {detail}")
        remedies = tuple(dict.fromkeys(("provide_missing_facts", *worst.conditions)))
        reasons = tuple(_unique((missing, *worst.reasons)))
        return Decision(Verdict.FORBIDDEN, reasons, remedies, None, None, culprits)
    note = make_reason("FACTS_MISSING", Effect.INFORMS, f"unknown: {detail}")
    conditions = tuple(dict.fromkeys((*decision.conditions, *worst.conditions)))
    reasons = tuple(_unique((*decision.reasons, *worst.reasons, note)))
    until = min((m for m in (decision.valid_until, worst.valid_until) if m is not None), default=None)
    return Decision(worst.verdict, reasons, conditions, decision.legal_basis, until)


def _unique(reasons: Iterable[Reason]) -> Iterator[Reason]:
    seen: set[str] = set()
    for reason in reasons:
        if reason.code not in seen:
            seen.add(reason.code)
            yield reason


def candidates(key: str, request: Request) -> tuple[Any, ...]:
    """The values an unknown fact could take, as far as the rules can tell them apart."""
    convert = _converters()[key]
    accepted = getattr(convert, "accepted", None)
    if accepted is not None:
        words = tuple(sorted(accepted))
        return ((), words, *((word,) for word in words)) if getattr(convert, "many", False) else words
    if convert in (fact_types._to_bool, fact_types._to_bool_or_unknown):
        return (True, False)
    if convert is fact_types._to_int:
        return (0, MANY)
    if convert is fact_types._to_date:
        return (fact_types.EARLIEST, request.at.date())
    if convert is fact_types._to_datetime:
        return (datetime.combine(fact_types.EARLIEST, time(), tzinfo=UTC), request.at)
    if convert is fact_types._to_time:
        return (time(3, 0), time(12, 0))
    if convert is fact_types._to_zone:
        return FAR_ZONES
    if convert is fact_types._to_words:
        return ((), OPEN_LISTS.get(key, ("other",)))
    return (*OPEN_WORDS.get(key, ()), "other")


@cache
def _converters() -> dict[str, Callable[[Any], Any]]:
    hints = get_type_hints(fact_types.Facts, include_extras=True)
    return {name: hint.__metadata__[0] for name, hint in hints.items() if hasattr(hint, "__metadata__")}


def _with_facts(request: Request, values: dict[str, Any]) -> Request:
    facts = request.facts.replace(**values)
    contact = request.contact
    zone = contact.time_zone or values.get("callee_timezone")
    return replace(request, contact=replace(contact, facts=facts, time_zone=zone))
