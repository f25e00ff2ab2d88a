"""The rule table's vocabulary as data: legal sources, reason codes and condition codes.

Loaded once from the YAML files in `sdk/rules/data/`, which follow shared/rules/RULES.md §11 and §12.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from .vocabulary import Confidence


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    title: str
    url: str | None


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    code: str
    summary: str
    confidence: Confidence
    sources: tuple[Source, ...]


def _load(name: str) -> dict[str, Any]:
    text = resources.files("consentry.sdk.rules").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
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
        )
        for code, entry in _load("reasons.yaml").items()
    }


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
