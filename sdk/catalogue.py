"""The rule table's vocabulary as data: legal sources, reason codes, condition codes and fact keys.

Loaded once from the YAML files in `sdk/rules/data/`; `consentry rules docs` publishes them as docs/rules/.
"""

import typing
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import yaml

from . import facts as _facts
from .vocabulary import Confidence


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    title: str
    url: str | None


# Where a reason code's law comes from: a country Consentry decides for, the EU (the GDPR and EU-wide rules, which
# Consentry applies wherever it decides), or "any" for the product's own codes.
REASON_JURISDICTIONS = ("FR", "DE", "IT", "ES", "BE", "NL", "UK", "US", "EU", "any")


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    code: str
    summary: str
    confidence: Confidence
    sources: tuple[Source, ...]
    title: str = ""
    jurisdiction: str = "any"
    in_force_from: date | None = None  # the days the rules giving this code apply, when they are dated
    in_force_until: date | None = None

    @property
    def label(self) -> str:
        """The code with its title, as a person reads it: `FR_PHONE_HOURS (Legal calling days and hours)`."""
        return f"{self.code} ({self.title})" if self.title else self.code


class WhenUnknown(StrEnum):
    """How the engine reads a fact given as unknown (null, or an empty CSV cell)."""

    AGAINST = "against"  # the least favourable value: unknown never makes a decision more permissive
    NONE = "none"  # the event it records did not happen; there is none
    INFORMATIVE = "informative"  # it describes the case; no rule decides on it


@dataclass(frozen=True, slots=True)
class FactInfo:
    key: str
    type: str  # in words: "yes/no", "date", "text, one of: ..."
    meaning: str
    when_unknown: WhenUnknown


# libyaml's loader when PyYAML was built with it: the pure-Python one took about 50 ms for the catalogue, paid by every
# command and by each server process's first decision
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(name: str) -> dict[str, Any]:
    text = resources.files("consentry.sdk.rules").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=_Loader)  # a safe loader either way
    return data


@cache
def sources() -> dict[str, Source]:
    return {key: Source(key, entry["title"], entry.get("url")) for key, entry in _load("sources.yaml").items()}


@cache
def reasons() -> dict[str, ReasonInfo]:
    known = sources()
    return {
        code: ReasonInfo(
            code=code,
            summary=entry["summary"],
            confidence=Confidence(entry["confidence"]),
            sources=tuple(known[key] for key in entry["sources"]),
            title=entry["title"],
            jurisdiction=_jurisdiction(code, entry["jurisdiction"]),
            in_force_from=_day(entry.get("in_force_from")),
            in_force_until=_day(entry.get("in_force_until")),
        )
        for code, entry in _load("reasons.yaml").items()
    }


def _jurisdiction(code: str, value: str) -> str:
    if value not in REASON_JURISDICTIONS:
        raise ValueError(f"reason code {code!r} has jurisdiction {value!r}, not one of {REASON_JURISDICTIONS}")
    return value


def _day(value: date | str | None) -> date | None:
    """A date as YAML reads it (unquoted ISO dates arrive as dates), or None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def reason_title(code: str) -> str:
    """A code's plain-language title; "" for a code the catalogue does not know."""
    info = reasons().get(code)
    return info.title if info is not None else ""


def reason_label(code: str) -> str:
    """`CODE (Title)` for a code of the catalogue; an unknown code as it is."""
    info = reasons().get(code)
    return info.label if info is not None else code


@cache
def conditions() -> dict[str, str]:
    return dict(_load("conditions.yaml"))


def reason(code: str) -> ReasonInfo:
    try:
        return reasons()[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} is not in the catalogue") from None


def condition_text(code: str) -> str:
    try:
        return conditions()[code]
    except KeyError:
        raise KeyError(f"condition code {code!r} is not in the catalogue") from None


@cache
def facts() -> dict[str, FactInfo]:
    """Every fact key of `Facts`, with its type in words, its meaning and how an unknown value reads."""
    entries = _load("facts.yaml")
    hints = typing.get_type_hints(_facts.Facts, include_extras=True)
    return {
        key: FactInfo(
            key=key,
            type=_type_words(hints[key]),
            meaning=entry["meaning"],
            when_unknown=WhenUnknown(entry["when_unknown"]),
        )
        for key, entry in sorted(entries.items())
    }


def declared_facts() -> frozenset[str]:
    """The fact keys `Facts` declares, each a field whose type carries its converter."""
    hints = typing.get_type_hints(_facts.Facts, include_extras=True)
    return frozenset(name for name, hint in hints.items() if hasattr(hint, "__metadata__"))


_BASE_WORDS: dict[Any, str] = {
    bool: "yes/no",
    int: "whole number",
    date: "date",
    datetime: "date and time",
    time: "time of day",
    str: "text",
}


def _type_words(hint: Any) -> str:
    """A fact's type in words, from its annotation: the value type, and a closed vocabulary when it has one."""
    if hint == _facts.TimeZoneName:
        return "IANA time zone"
    kinds = [arg for arg in typing.get_args(typing.get_args(hint)[0]) if arg is not type(None)]
    if any(typing.get_origin(kind) is typing.Literal for kind in kinds):
        return "yes/no/unknown"
    is_list = any(typing.get_origin(kind) is tuple for kind in kinds)
    words = "list of words" if is_list else _BASE_WORDS[kinds[0]]
    accepted = _accepted_words(hint.__metadata__[0])
    if not accepted:
        return words
    return f"{words}, {'each ' if is_list else ''}one of: {', '.join(sorted(accepted))}"


def _accepted_words(convert: Any) -> frozenset[str]:
    """The closed vocabulary a converter accepts, as the error it raises for a word outside it reports."""
    try:
        convert("\x00")
    except ValueError as error:
        accepted: frozenset[str] = getattr(error, "accepted", frozenset())
        return accepted
    return frozenset()
