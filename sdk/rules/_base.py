"""Rules as data: each rule names its scope and its dates in force, and a small function does the judging."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from ..decision import Findings
from ..models import Request
from ..vocabulary import Action, Audience, Channel

Check = Callable[[Request, Findings], None]
SEND = frozenset({Action.SEND})
ELECTRONIC = frozenset({Channel.EMAIL, Channel.SMS, Channel.AUTOMATED_CALL, Channel.FAX})
CONSUMER = frozenset({Audience.CONSUMER})
BUSINESS = frozenset({Audience.NAMED_PROFESSIONAL, Audience.GENERIC_BUSINESS_ADDRESS})


@dataclass(frozen=True, slots=True)
class Rule:
    """`check` runs only for requests in scope, on days inside [in_force_from, in_force_until]."""

    check: Check
    actions: frozenset[Action] = SEND
    channels: frozenset[Channel] | None = None
    audiences: frozenset[Audience] | None = None
    in_force_from: date | None = None
    in_force_until: date | None = None

    def covers(self, request: Request) -> bool:
        """Whether the request's action, channel and audience are in this rule's scope."""
        if request.action not in self.actions:
            return False
        if self.channels is not None and request.channel not in self.channels:
            return False
        return self.audiences is None or request.contact.audience in self.audiences

    def in_force_on(self, legal_day: date) -> bool:
        if self.in_force_from is not None and legal_day < self.in_force_from:
            return False
        return self.in_force_until is None or legal_day <= self.in_force_until


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    code: str
    name: str
    legal_time_zone: str
    rules: tuple[Rule, ...]
    normalise: Callable[[Request], Request] | None = None

    def __post_init__(self) -> None:
        _LEGAL_ZONES[self.code] = self.legal_time_zone

    def apply(self, request: Request, findings: Findings) -> None:
        """Run the rules in scope that are in force on the request's day in the jurisdiction's own time.

        Reusing data to prospect on a channel is judged by that channel's rules for sending, between sends (no call
        or message at hand: the hours bind each one), as well as by the rules on reuse itself."""
        if self.normalise is not None:
            request = self.normalise(request)
        day = legal_day(request)
        for rule in self._in_scope(request):
            if rule.in_force_on(day):
                rule.check(request, findings)
        if request.action is Action.REUSE and request.channel is not Channel.ANY:
            as_sent = replace(request, action=Action.SEND, standing=True)
            for rule in self._in_scope(as_sent):
                if Action.REUSE not in rule.actions and rule.in_force_on(day):
                    rule.check(as_sent, findings)

    def _in_scope(self, request: Request) -> tuple[Rule, ...]:
        """The rules for this action, channel and audience, computed once per combination."""
        key = (self.code, request.action, request.channel, request.contact.audience)
        rules = _SCOPES.get(key)
        if rules is None:
            rules = _SCOPES[key] = tuple(rule for rule in self.rules if rule.covers(request))
        return rules


_SCOPES: dict[tuple[Any, ...], tuple[Rule, ...]] = {}
_LEGAL_ZONES: dict[str, str] = {}  # each jurisdiction's own time zone, by code


def legal_day(request: Request) -> date:
    """The request's day in its jurisdiction's own time: the day that decides which laws are in force and the day
    every duration (a deadline, a retention period, a consent's lifetime) is counted to. One moment gets one answer,
    whatever offset it is written with."""
    name = _LEGAL_ZONES.get((request.contact.jurisdiction or "").upper())
    return request.at.astimezone(zone(name)).date() if name else request.at.date()


def latest_day(request: Request) -> date:
    """The later of the day as written and the jurisdiction's day: an objection or a refusal dated either one is
    already on file (an opt-out always wins)."""
    return max(request.at.date(), legal_day(request))


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
