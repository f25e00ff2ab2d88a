"""Consent events and the state derived from them: the log is the truth, the state is computed.

Opt-out always wins: a withdrawal or objection is superseded only by a later, explicit and provable consent
to the same advertiser; at equal times the opt-out wins; the order in which events arrive never matters.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import InvalidInputError
from .vocabulary import Channel

__all__ = [
    "ALL_CHANNELS",
    "DEFAULT_PURPOSE",
    "EXPLICIT_METHODS",
    "LEDGER_CHANNELS",
    "OTHER_METHODS",
    "UNKNOWN_STATE",
    "ConsentEvent",
    "ConsentState",
    "ConsentStatus",
    "EventKind",
    "derive_state",
]

ALL_CHANNELS = "all"
LEDGER_CHANNELS = frozenset({channel.value for channel in Channel if channel is not Channel.ANY} | {ALL_CHANNELS})
DEFAULT_PURPOSE = "prospecting"


class EventKind(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    REGRANTED = "regranted"

    @property
    def opts_out(self) -> bool:
        return self in (EventKind.WITHDRAWN, EventKind.OBJECTED)


class ConsentStatus(StrEnum):
    UNKNOWN = "unknown"
    GRANTED = "granted"
    OPTED_OUT = "opted_out"


# How consent was given; only these are explicit positive acts that can lift an earlier opt-out.
EXPLICIT_METHODS = frozenset(
    {"unticked_checkbox", "double_opt_in", "oral_recorded", "signed_form", "email_reply", "sms_keyword"}
)
OTHER_METHODS = frozenset({"imported", "pre_ticked_checkbox", "bundled_with_terms", "unknown"})


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One immutable fact about a person's consent, with its proof."""

    event_key: str
    kind: EventKind
    channel: str
    occurred_at: datetime
    source_system: str
    advertiser: str
    purpose: str = DEFAULT_PURPOSE
    recorded_at: datetime | None = None
    source_record_id: str | None = None
    collection_point: str | None = None
    wording: str | None = None
    wording_version: str | None = None
    method: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if not self.event_key or len(self.event_key) > 200:
            raise InvalidInputError("event_key must be 1 to 200 characters", field="event_key")
        try:
            object.__setattr__(self, "kind", EventKind(self.kind))
        except ValueError:
            raise InvalidInputError(f"kind must be one of {', '.join(EventKind)}", field="kind") from None
        if self.channel not in LEDGER_CHANNELS:
            raise InvalidInputError(
                f"unknown channel; use one of {', '.join(sorted(LEDGER_CHANNELS))}", field="channel"
            )
        if self.occurred_at.tzinfo is None:
            raise InvalidInputError("occurred_at needs a time zone", field="occurred_at")
        if not self.source_system or not self.advertiser:
            raise InvalidInputError("source_system and advertiser are required", field="source_system")
        if self.method is not None and self.method not in EXPLICIT_METHODS | OTHER_METHODS:
            raise InvalidInputError("unknown consent method", field="method")
        if self.kind is EventKind.REGRANTED and not self.is_provable:
            raise InvalidInputError(
                "a re-granted consent needs its proof: an explicit method, the collection point and the wording",
                field="method",
            )

    @property
    def is_provable(self) -> bool:
        """An explicit positive act whose collection point and wording are on file."""
        return self.method in EXPLICIT_METHODS and bool(self.collection_point) and bool(self.wording)

    def covers(self, channel: str) -> bool:
        return self.channel in (channel, ALL_CHANNELS)


@dataclass(frozen=True, slots=True)
class ConsentState:
    status: ConsentStatus
    since: datetime | None = None
    event_key: str | None = None
    provable: bool = False


UNKNOWN_STATE = ConsentState(ConsentStatus.UNKNOWN)


def _order(event: ConsentEvent) -> tuple[datetime, bool, str]:
    """Time first; at the same instant the opt-out comes last, so it wins; then the key, for determinism."""
    return (event.occurred_at, event.kind.opts_out, event.event_key)


def derive_state(
    events: Iterable[ConsentEvent], *, channel: str, advertiser: str, purpose: str = DEFAULT_PURPOSE
) -> ConsentState:
    """The current consent state of one person for one channel, advertiser and purpose."""
    state = UNKNOWN_STATE
    relevant = (e for e in events if e.covers(channel) and e.advertiser == advertiser and e.purpose == purpose)
    for event in sorted(relevant, key=_order):
        if event.kind.opts_out:
            state = ConsentState(ConsentStatus.OPTED_OUT, event.occurred_at, event.event_key, provable=True)
        elif event.is_provable:
            state = ConsentState(ConsentStatus.GRANTED, event.occurred_at, event.event_key, provable=True)
        elif state.status is ConsentStatus.UNKNOWN or (state.status is ConsentStatus.GRANTED and not state.provable):
            state = ConsentState(ConsentStatus.GRANTED, event.occurred_at, event.event_key, provable=False)
        # Otherwise an unprovable grant neither lifts an opt-out nor replaces the proof a consent rests on.
    return state
