"""The standing verdict on one person and channel, from the ledger and the suppression list: what the sync tags
into each CRM and what the report counts.

It holds between sends, whatever the hour: the days and hours a call may be made are a condition of each call
(`Request.standing`), so a tag written at night says what a tag written at noon says.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .consent_state import ConsentEvent, ConsentState, ConsentStatus, derive_state
from .decision import Decision
from .facts import Facts
from .models import Contact, Request
from .rules import evaluate
from .suppression import Suppression
from .vocabulary import Action, Audience, Channel

_CONSENT_FACT = {ConsentStatus.GRANTED: "opt_in", ConsentStatus.OPTED_OUT: "withdrawn"}


def standing_decision(
    events: Sequence[ConsentEvent],
    channel: Channel,
    *,
    advertiser: str,
    audience: Audience | None,
    jurisdiction: str | None,
    at: datetime,
    suppression: Suppression | None = None,
) -> tuple[Decision, ConsentState]:
    """The engine's standing verdict on a send by `channel`, and the consent state the ledger's events give.

    `suppression` is what the suppression list says of the person: an entry covering the channel is an objection
    on file whatever the ledger holds (an erased person has no ledger left, an imported list no events)."""
    state = derive_state(events, channel=channel.value, advertiser=advertiser)
    facts: dict[str, Any] = {"consent_state": _CONSENT_FACT.get(state.status, "none")}
    if state.since is not None and state.status is not ConsentStatus.UNKNOWN:
        facts["consent_date" if state.status is ConsentStatus.GRANTED else "withdrawal_date"] = state.since.date()
    if suppression is not None and suppression.covers(channel.value):
        # on file now, whatever day `at` names: an entry dated later (a verdict asked for an earlier moment, an
        # entry merged since) must not read as an objection yet to come
        facts |= {"on_suppression_list": True, "suppression_date": min(suppression.added_on, at.date())}
    contact = Contact(audience=audience, jurisdiction=jurisdiction, facts=Facts(facts))
    request = Request(contact=contact, channel=channel, at=at, action=Action.SEND, standing=True)
    return evaluate(request), state
