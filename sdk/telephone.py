"""Calling calendars: windows in the callee's time zone (from the number when it tells), public holidays, and
the rolling frequency cap.

French consumer calls (D223-9): Monday to Friday, [10:00, 13:00) and [14:00, 20:00), never on an L3133-1
public holiday, at most 4 calls or attempts per 30 days. The end of each window is excluded.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import holidays
import phonenumbers
from phonenumbers import timezone as phone_timezones

from .errors import InvalidInputError

Window = tuple[time, time]
FRENCH_WINDOWS: tuple[Window, ...] = ((time(10), time(13)), (time(14), time(20)))
WEEKDAYS = frozenset(range(5))
ALSACE_MOSELLE = "57"


@cache
def french_holidays(subdivision: str | None = None) -> holidays.HolidayBase:
    """L3133-1 holidays; with subdivision "57" (or "67"/"68") also Alsace-Moselle's Good Friday and 26 Dec."""
    if subdivision in ("67", "68"):
        subdivision = ALSACE_MOSELLE
    if subdivision not in holidays.list_supported_countries()["FR"]:
        subdivision = None  # a département without holidays of its own keeps the national ones
    return holidays.country_holidays("FR", subdiv=subdivision)


@dataclass(frozen=True, slots=True)
class CallingCalendar:
    """When calls may be placed, in the callee's local time."""

    windows: tuple[Window, ...] = FRENCH_WINDOWS
    weekdays: frozenset[int] = WEEKDAYS
    holiday_subdivision: str | None = None
    observe_holidays: bool = True

    def is_holiday(self, day: date) -> bool:
        return self.observe_holidays and day in french_holidays(self.holiday_subdivision)

    def is_open_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and not self.is_holiday(day)

    def window_at(self, local: datetime) -> Window | None:
        """The window containing `local`, or None when calls are closed then."""
        if not self.is_open_day(local.date()):
            return None
        moment = local.time().replace(tzinfo=None)
        for start, end in self.windows:
            if start <= moment < end:
                return start, end
        return None

    def closes_at(self, local: datetime) -> datetime | None:
        window = self.window_at(local)
        if window is None:
            return None
        return datetime.combine(local.date(), window[1], tzinfo=local.tzinfo)

    def next_opening(self, local: datetime, *, horizon_days: int = 400) -> datetime:
        """The first moment at or after `local` inside a window."""
        if self.window_at(local):
            return local
        day = local.date()
        for offset in range(horizon_days):
            current = day + timedelta(days=offset)
            if not self.is_open_day(current):
                continue
            for start, _end in self.windows:
                candidate = datetime.combine(current, start, tzinfo=local.tzinfo)
                if candidate >= local:
                    return candidate
        raise ValueError("no calling window within the horizon")


def attempts_within(attempts: Iterable[datetime], moment: datetime, *, days: int = 30) -> list[datetime]:
    """Calls or attempts (answered or not) in the rolling window of `days` ending at `moment`."""
    start = moment - timedelta(days=days)
    return sorted(a for a in attempts if start < a <= moment)


def frequency_frees_at(attempts: Sequence[datetime], moment: datetime, *, cap: int = 4, days: int = 30) -> datetime:
    """The first moment at or after `moment` when fewer than `cap` attempts fall in the rolling window."""
    recent = attempts_within(attempts, moment, days=days)
    if len(recent) < cap:
        return moment
    return recent[len(recent) - cap] + timedelta(days=days)


_REGION_OF = {"UK": "GB"}  # jurisdiction codes that are not the numbering region's ISO code


def zone_of_phone(phone: str, jurisdiction: str | None) -> str:
    """The callee's time zone from the number itself (+262 is La Réunion), when it has exactly one."""
    region = _REGION_OF.get(jurisdiction or "", jurisdiction)
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        raise InvalidInputError("invalid phone number", field="phone") from None
    return zone_of_number(number)


def zone_of_number(number: phonenumbers.PhoneNumber) -> str:
    """`zone_of_phone` for a number already parsed."""
    if not phonenumbers.is_possible_number(number):
        raise InvalidInputError("invalid phone number", field="phone")
    zones = [z for z in phone_timezones.time_zones_for_number(number) if z != "Etc/Unknown"]
    if len(zones) != 1:
        raise InvalidInputError("unknown time zone: the phone number spans several", field="time_zone")
    return zones[0]
