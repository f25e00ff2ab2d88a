"""Decisions, their reasons, and the builder that rules fill in.

A rule never returns a verdict: it records what it found (a block, a permission, a note, a condition, a missing
fact) and the builder derives the verdict. Nothing permits by default: a request that no rule permits is
forbidden, so an unknown case never comes out "allowed".
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from .catalogue import Source, reason
from .vocabulary import Confidence, LegalBasis, Verdict


class Effect(StrEnum):
    BLOCKS = "blocks"
    PERMITS = "permits"
    INFORMS = "informs"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    effect: Effect
    summary: str
    confidence: Confidence
    sources: tuple[Source, ...]
    detail: str = ""
    title: str = ""

    @property
    def label(self) -> str:
        """The code with its plain-language title, as a person reads it."""
        return f"{self.code} ({self.title})" if self.title else self.code

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "effect": self.effect.value,
            "summary": self.summary,
            "detail": self.detail,
            "confidence": self.confidence.value,
            "sources": [source.key for source in self.sources],
        }


@cache
def make_reason(code: str, effect: Effect, detail: str = "") -> Reason:
    info = reason(code)
    return Reason(code, effect, info.summary, info.confidence, info.sources, detail, info.title)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    conditions: tuple[str, ...]
    legal_basis: LegalBasis | None = None
    valid_until: datetime | None = None
    missing_facts: tuple[str, ...] = field(default=())

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.code for r in self.reasons))

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.FORBIDDEN

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.verdict.value,
            "conditions": list(self.conditions),
            "reason_codes": list(self.reason_codes),
            "legal_basis": self.legal_basis.value if self.legal_basis else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "missing_facts": list(self.missing_facts),
            "reasons": [r.to_dict() for r in self.reasons],
        }


class Findings:
    """What the rules found about one request; `decide()` turns it into a Decision."""

    def __init__(self) -> None:
        self._blocks: list[Reason] = []
        self._permits: list[Reason] = []
        self._notes: list[Reason] = []
        self._requirements: dict[str, None] = {}
        self._remedies: dict[str, None] = {}
        self._missing: dict[str, None] = {}
        self.legal_basis: LegalBasis | None = None
        self.valid_until: datetime | None = None

    def forbid(self, code: str, *remedies: str, detail: str = "") -> None:
        self._blocks.append(make_reason(code, Effect.BLOCKS, detail))
        self._remedies.update(dict.fromkeys(remedies))

    def permit(self, code: str, *conditions: str, basis: LegalBasis | None = None, detail: str = "") -> None:
        self._permits.append(make_reason(code, Effect.PERMITS, detail))
        self._requirements.update(dict.fromkeys(conditions))
        if basis is not None and self.legal_basis is None:
            self.legal_basis = basis

    def note(self, code: str, detail: str = "") -> None:
        self._notes.append(make_reason(code, Effect.INFORMS, detail))

    def require(self, *conditions: str) -> None:
        self._requirements.update(dict.fromkeys(conditions))

    def remedy(self, *conditions: str) -> None:
        self._remedies.update(dict.fromkeys(conditions))

    def need(self, *facts: str) -> None:
        """A fact the rule needs is unknown: the request cannot be allowed until it is given."""
        self._missing.update(dict.fromkeys(facts))

    def hold_until(self, moment: datetime | None) -> None:
        """The decision holds until `moment` at the latest; None (no window closes) changes nothing."""
        if moment is None:
            return
        if self.valid_until is None or moment < self.valid_until:
            self.valid_until = moment

    @property
    def incomplete(self) -> bool:
        return bool(self._missing)

    @property
    def blocked(self) -> bool:
        return bool(self._blocks)

    @property
    def permitted(self) -> bool:
        return bool(self._permits)

    def decide(self) -> Decision:
        if self._missing:
            self.forbid("FACTS_MISSING", "provide_missing_facts", detail=", ".join(self._missing))
        if not self._blocks and not self._permits:
            self.forbid("NO_RULE")
        reasons = tuple(self._unique(self._blocks + self._permits + self._notes))
        if self._blocks:
            return Decision(Verdict.FORBIDDEN, reasons, tuple(self._remedies), None, None, tuple(self._missing))
        verdict = Verdict.ALLOWED_WITH_CONDITIONS if self._requirements else Verdict.ALLOWED
        return Decision(verdict, reasons, tuple(self._requirements), self.legal_basis, self.valid_until)

    @staticmethod
    def _unique(items: list[Reason]) -> list[Reason]:
        seen: set[str] = set()
        unique = []
        for item in items:
            if item.code not in seen:
                seen.add(item.code)
                unique.append(item)
        return unique
