"""Data subjects' rights requests on the GDPR's clock (Art. 12(3)): answered within one month of receipt, a period
that may be extended once by two further months, the person told why.

"One month" runs from the day of receipt to the same day of the next month, or to that month's last day when it
has no such day (31 January: 28 or 29 February); the day is read in the time zone the receipt was given in, and in
Europe/Paris when it was given without one. The extension adds two months to that due date, by the same rule: of
the two readings of "two further months" (from the due date, or three months from receipt) the earlier, safer one.
"""

from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from .dates import add_months
from .errors import InvalidInputError

DEFAULT_ZONE = "Europe/Paris"
GDPR_APPLIES_FROM = datetime(2018, 5, 25, tzinfo=UTC)  # Art. 99(2): no request under it was received before
EXTENSION_MONTHS = 2
LOCAL_SYSTEM = "consentry"  # Consentry's own database, the last system an erasure reaches


class RightsKind(StrEnum):
    ERASURE = "erasure"  # Art. 17, told to every recipient (Art. 19)
    ACCESS = "access"  # Art. 15
    OBJECTION = "objection"  # Art. 21(2) and (3): direct marketing stops, everywhere


class RightsStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    FAILED = "failed"  # a system refused or kept failing: visible, and re-playable


def rights_kind(value: str) -> RightsKind:
    try:
        return RightsKind(value)
    except ValueError:
        accepted = ", ".join(kind.value for kind in RightsKind)
        raise InvalidInputError(f"a request's kind is one of {accepted}", field="kind") from None


def received(at: datetime | None, *, now: datetime | None = None) -> tuple[datetime, str]:
    """The moment of receipt, aware, and the zone its day is read in: `at`'s own offset, Europe/Paris for a time
    given without one, and now (in Europe/Paris) when none is given."""
    if at is None:
        return (now or datetime.now(UTC)).astimezone(ZoneInfo(DEFAULT_ZONE)), DEFAULT_ZONE
    if at.tzinfo is None:
        return at.replace(tzinfo=ZoneInfo(DEFAULT_ZONE)), DEFAULT_ZONE
    return at, at.tzname() or "UTC"


def due_date(received_at: datetime) -> date:
    """The last day to answer: one month after the day of receipt, in the receipt's own time zone."""
    return add_months(received_at.date(), 1)


def extended(due: date) -> date:
    return add_months(due, EXTENSION_MONTHS)
