"""The rules engine: one module per jurisdiction, each a table of dated rules.

`evaluate(request)` answers "may we do this, to this person, by this channel, now, and on what conditions?".
An unknown jurisdiction, or a missing fact a rule needs, never yields "allowed"; a fact given as unknown reads as
the least favourable of its values (_unknown.py).
"""

from datetime import timedelta
from functools import lru_cache

from ..decision import Decision, Findings
from ..models import Request
from ..vocabulary import Action, Channel
from . import be, de, es, fr, it, nl, uk, us
from ._base import Jurisdiction, Rule
from ._unknown import against_unknowns, fail_closed

JURISDICTIONS: dict[str, Jurisdiction] = {
    module.JURISDICTION.code: module.JURISDICTION for module in (fr, de, it, es, be, nl, uk, us)
}

__all__ = ["JURISDICTIONS", "Jurisdiction", "Rule", "evaluate"]


def evaluate(request: Request) -> Decision:
    """Decide one request. Decisions are pure, so identical situations share one cached answer.

    The cache key carries the timestamp's offset and zone: two spellings of the same instant are equal datetimes,
    but when the callee's time zone is unknown the offset is what tells the local hour.
    """
    decision = _decide(request)
    unknowns = against_unknowns(request)
    return fail_closed(request, decision, unknowns, _decide) if unknowns else decision


def _decide(request: Request) -> Decision:
    return _evaluate(request, request.at.utcoffset(), str(request.at.tzinfo))


@lru_cache(maxsize=4096)
def _evaluate(request: Request, _offset: timedelta | None, _zone: str) -> Decision:
    findings = Findings()
    contact = request.contact
    if contact.jurisdiction is None:
        findings.need("jurisdiction")
        return findings.decide()
    jurisdiction = JURISDICTIONS.get(contact.jurisdiction.upper())
    if jurisdiction is None:
        findings.forbid("NO_RULE", detail=f"no rules for jurisdiction {contact.jurisdiction!r}")
        return findings.decide()
    if contact.audience is None:
        findings.need("audience")
    if request.action is Action.SEND and request.channel is Channel.ANY:
        findings.need("channel")
    if not findings.blocked and not findings.incomplete:
        jurisdiction.apply(request, findings)
    return findings.decide()
