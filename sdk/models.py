"""The parties to a decision: who is contacted, by which channel, for what, by whom, and when."""

from dataclasses import dataclass, field
from datetime import datetime

from .errors import InvalidInputError
from .facts import Facts, is_time_zone
from .vocabulary import Action, Audience, Channel, SenderType

_EMPTY = Facts()


@dataclass(frozen=True, slots=True)
class Contact:
    """A person or business address as the law sees it.

    Identifiers take no part in equality: two contacts with the same legal situation get the same decision.
    `subdivision` is a region with its own holidays (Alsace-Moselle: "57", "67", "68").
    `facts` holds the customer relationship, data source and how and when consent or objection was given.
    """

    audience: Audience | None
    jurisdiction: str | None
    time_zone: str | None = None
    facts: Facts = _EMPTY
    subdivision: str | None = None
    contact_id: str | None = field(default=None, compare=False)
    email: str | None = field(default=None, compare=False, repr=False)
    phone: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.time_zone is not None and not is_time_zone(self.time_zone):
            raise InvalidInputError("unknown time zone", field="time_zone")


@dataclass(frozen=True, slots=True)
class Request:
    """The question put to the engine: may `sender` perform `action` on `contact` by `channel` at `at`?

    `standing` asks instead for the verdict that holds between sends (a CRM's consent tag, a report's count): the
    hours and days a call may be made become a condition of each call rather than deciding the verdict, which
    would otherwise turn to "forbidden" every evening. `at` still decides which rules are in force.
    """

    contact: Contact
    channel: Channel
    at: datetime
    action: Action = Action.SEND
    sender: SenderType = SenderType.COMPANY
    standing: bool = False

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("the moment of a decision needs a time zone offset")

    @property
    def facts(self) -> Facts:
        return self.contact.facts
