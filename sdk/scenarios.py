"""The scenario format (docs/rules/): compliance teams write their own cases and run them.

A scenario passes when the decision equals the expected one and every expected condition and reason code is
among those produced (the engine may give more).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .catalogue import reason
from .decision import Decision
from .errors import InvalidInputError
from .facts import Facts
from .models import Contact, Request
from .rules import evaluate
from .vocabulary import Action, Audience, Channel, SenderType, Verdict

SCENARIO_KEYS = frozenset(
    {"id", "title", "notes", "jurisdiction", "channel", "audience", "action", "evaluated_at", "facts"}
    | {"expected", "confidence"}
)
EXPECTED_KEYS = frozenset({"decision", "conditions", "reason_codes", "sources"})


@dataclass(frozen=True)
class Expectation:
    decision: Verdict
    conditions: tuple[str, ...] = ()
    reason_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    request: Request | None
    expected: Expectation | None
    confidence: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    decision: Decision | None
    missing_conditions: tuple[str, ...] = field(default=())
    missing_reason_codes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return (
            self.decision is not None
            and self.scenario.expected is not None
            and self.decision.verdict is self.scenario.expected.decision
            and not self.missing_conditions
            and not self.missing_reason_codes
        )

    def to_dict(self) -> dict[str, Any]:
        decision = self.decision
        return {
            "id": self.scenario.id,
            "passed": self.passed,
            "decision": decision.verdict.value if decision else None,
            "expected_decision": self.scenario.expected.decision.value if self.scenario.expected else None,
            "conditions": list(decision.conditions) if decision else [],
            "reason_codes": list(decision.reason_codes) if decision else [],
            "reason_titles": [reason(code).title for code in decision.reason_codes] if decision else [],
            "missing_conditions": list(self.missing_conditions),
            "missing_reason_codes": list(self.missing_reason_codes),
            "error": self.scenario.error,
        }


def request_from_fields(raw: dict[str, Any]) -> Request:
    """Build a Request from the scenario fields: jurisdiction, channel, audience, action, evaluated_at, facts."""
    facts = Facts(raw.get("facts") or {})
    contact = Contact(
        audience=_optional_enum(Audience, raw.get("audience"), "audience"),
        jurisdiction=str(raw["jurisdiction"]).upper() if raw.get("jurisdiction") else None,
        time_zone=facts.callee_timezone,
        facts=facts,
    )
    return Request(
        contact=contact,
        channel=_enum(Channel, raw.get("channel") or "any", "channel"),
        at=_moment(raw.get("evaluated_at")),
        action=_enum(Action, raw.get("action") or "send", "action"),
        sender=sender_of(facts),
    )


def sender_of(facts: Facts) -> SenderType:
    if facts.is_political:
        return SenderType.POLITICAL
    if facts.is_charity:
        return SenderType.CHARITY
    return SenderType.parse(facts.sender_type)


_E = TypeVar("_E", bound=Enum)


def _optional_enum(kind: type[_E], value: object, name: str) -> _E | None:
    return None if value is None else _enum(kind, value, name)


def _enum(kind: type[_E], value: object, name: str) -> _E:
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        raise InvalidInputError(f"{name} is not one of {', '.join(k.value for k in kind)}", field=name) from None


def _moment(value: Any) -> datetime:
    if value is None:
        raise InvalidInputError("evaluated_at is required", field="evaluated_at")
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError("evaluated_at is not an ISO-8601 timestamp", field="evaluated_at") from None
    if moment.tzinfo is None:
        raise InvalidInputError("evaluated_at needs a UTC offset", field="evaluated_at")
    return moment


def parse_scenario(raw: Any, position: int) -> Scenario:
    """One scenario; a malformed one comes back with `error` set instead of raising."""
    if not isinstance(raw, dict):
        return Scenario(f"#{position}", "", None, None, error="a scenario must be a mapping")
    ident = str(raw.get("id") or f"#{position}")
    try:
        unknown = sorted(set(raw) - SCENARIO_KEYS)
        if unknown:
            raise InvalidInputError(f"unknown scenario keys: {', '.join(unknown)}")
        expected = raw.get("expected") or {}
        unknown = sorted(set(expected) - EXPECTED_KEYS)
        if unknown:
            raise InvalidInputError(f"unknown expected keys: {', '.join(unknown)}")
        decision = _optional_enum(Verdict, expected.get("decision"), "expected.decision")
        conditions = tuple(expected.get("conditions") or ())
        reason_codes = tuple(expected.get("reason_codes") or ())
        if decision is None:
            raise InvalidInputError("expected.decision is required")
        expectation = Expectation(decision=decision, conditions=conditions, reason_codes=reason_codes)
        return Scenario(ident, str(raw.get("title", "")), request_from_fields(raw), expectation, raw.get("confidence"))
    except InvalidInputError as error:
        return Scenario(ident, str(raw.get("title", "")), None, None, raw.get("confidence"), error=str(error))


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Read a scenario file: a list, or a mapping with a `scenarios` list (and optional `meta`)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    except OSError as error:
        raise InvalidInputError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text") from None
    items = document.get("scenarios") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InvalidInputError(f"{path}: expected a list of scenarios")
    return [parse_scenario(raw, position) for position, raw in enumerate(items, 1)]


def run_scenario(scenario: Scenario) -> ScenarioResult:
    if scenario.request is None or scenario.expected is None:
        return ScenarioResult(scenario, None)
    decision = evaluate(scenario.request)
    return ScenarioResult(
        scenario,
        decision,
        missing_conditions=tuple(c for c in scenario.expected.conditions if c not in decision.conditions),
        missing_reason_codes=tuple(c for c in scenario.expected.reason_codes if c not in decision.reason_codes),
    )


def run_scenarios(scenarios: Iterable[Scenario]) -> Iterator[ScenarioResult]:
    return (run_scenario(scenario) for scenario in scenarios)
