"""What Consentry holds about one person, for the console: the consent history with its proof, the standing
verdict per channel with its reasons, the suppression entries, and where each opt-out went and when.

Built from the access export's own section (`rights_export.gather`, asked of no connector), less the person's
record and synced contacts: a page shows the identifier it was asked for and no other.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consentry.sdk.decision import Decision
from consentry.sdk.identity import IdentifierKind, normalise
from consentry.sdk.rights import LOCAL_SYSTEM
from consentry.sdk.standing import standing_decision
from consentry.sdk.store import consistent_reading
from consentry.sdk.vocabulary import Audience

from ..report import CHANNELS
from ..rights_export import gather
from ..runtime import Runtime


@dataclass(frozen=True)
class Person:
    kind: IdentifierKind
    identifier: str  # normalised, as asked for
    found: bool
    events: list[dict[str, Any]]
    states: list[dict[str, Any]]
    suppression: list[dict[str, Any]]
    propagation: list[dict[str, Any]]
    verdicts: list[tuple[str, Decision]]
    audience: str | None
    jurisdiction: str | None


def identify(identifier: str) -> tuple[IdentifierKind, str]:
    """An email (it has an @) or a phone number, normalised; InvalidInputError (which never quotes it) else."""
    kind = IdentifierKind.EMAIL if "@" in identifier else IdentifierKind.PHONE
    return kind, normalise(kind, identifier)


def look_up(runtime: Runtime, kind: IdentifierKind, normalised: str, *, at: datetime | None = None) -> Person:
    email, phone = (normalised, None) if kind is IdentifierKind.EMAIL else (None, normalised)
    at = at or datetime.now(UTC)  # one moment for every channel's verdict
    services = runtime.services
    with consistent_reading(services.engine) as connection:  # the history and the verdicts agree
        held = gather(services, {}, email=email, phone=phone, within=connection)[LOCAL_SYSTEM]
        events = services.ledger.events(email=email, phone=phone, within=connection)
        suppression = services.suppression.of_people([(email, phone)], within=connection)[0]
    synced = held["contacts"]
    jurisdiction = min((c["jurisdiction"] for c in synced if c["jurisdiction"]), default=None)
    audience = min((c["audience"] for c in synced if c["audience"]), default=None)
    known = {value.value for value in Audience}
    verdicts = [
        (
            channel.value,
            standing_decision(
                events,
                channel,
                advertiser=runtime.advertiser,
                audience=Audience(audience) if audience in known else None,
                jurisdiction=jurisdiction,
                at=at,
                suppression=suppression,
            )[0],
        )
        for channel in CHANNELS
    ]
    return Person(
        kind=kind,
        identifier=normalised,
        found=held["person"] is not None,
        events=held["events"],
        states=held["states"],
        suppression=held["suppression"],
        propagation=held["propagation"],
        verdicts=verdicts,
        audience=audience,
        jurisdiction=jurisdiction,
    )
