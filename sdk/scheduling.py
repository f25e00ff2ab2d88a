"""When may we call? The next moment a call to a contact becomes lawful, given past attempts."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta

from .decision import Effect
from .models import Request
from .rules import evaluate
from .rules._common import callee_local_time
from .telephone import CallingCalendar, attempts_within, frequency_frees_at

TIMING_CODES = frozenset(
    {
        "FR_PHONE_HOURS",
        "FR_PHONE_HOURS_CONSUMER_TZ",
        "FR_PHONE_PUBLIC_HOLIDAY",
        "FR_PHONE_LOCAL_HOLIDAY_UNCLEAR",
        "FR_PHONE_WINDOW_END_EXCLUSIVE",
        "FR_PHONE_OUT_OF_HOURS_SLOT",
        "FR_PHONE_FREQUENCY",
        "FR_PHONE_REFUSAL_60D",
        "FR_SMS_HOURS_UNCLEAR",
        "US_TCPA_HOURS",
    }
)
US_CALENDAR = CallingCalendar(windows=((time(8), time(21)),), weekdays=frozenset(range(7)), observe_holidays=False)


def next_lawful_call(
    request: Request, *, attempts: Sequence[datetime] = (), horizon: timedelta = timedelta(days=120)
) -> datetime | None:
    """The first moment at or after `request.at` when the call is allowed, or None if waiting will not help.

    `attempts` are earlier calls or attempts, answered or not; they feed the rolling 30-day cap.
    """
    moment = request.at
    limit = request.at + horizon
    calendar = (
        US_CALENDAR
        if request.contact.jurisdiction == "US"
        else CallingCalendar(holiday_subdivision=request.contact.subdivision)
    )
    while moment <= limit:
        candidate = _at(request, moment, attempts)
        decision = evaluate(candidate)
        if decision.allowed:
            return moment
        blocking = {r.code for r in decision.reasons if r.effect is Effect.BLOCKS}
        if not blocking <= TIMING_CODES:
            return None
        later = moment + timedelta(minutes=1)
        if "FR_PHONE_FREQUENCY" in blocking:
            if not attempts:
                return None
            later = max(later, frequency_frees_at(attempts, moment))
        refused = request.facts.refused_during_call_date
        if "FR_PHONE_REFUSAL_60D" in blocking and refused is not None:
            resume = datetime.combine(refused + timedelta(days=61), time(), tzinfo=moment.tzinfo)
            later = max(later, resume)
        local, _known = callee_local_time(_at(request, later, attempts))
        opening = calendar.next_opening(local)
        moment = max(later, opening.astimezone(moment.tzinfo))
    return None


def _at(request: Request, moment: datetime, attempts: Sequence[datetime]) -> Request:
    contact = request.contact
    if attempts:
        count = len(attempts_within(attempts, moment))
        contact = replace(contact, facts=contact.facts.replace(calls_in_last_30_days=count))
    return replace(request, at=moment, contact=contact)
