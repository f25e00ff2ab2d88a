"""The GDPR's clock for rights requests (Art. 12(3)): one month from the day of receipt, read in the receipt's own
time zone, extended once by two further months."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.rights import DEFAULT_ZONE, RightsKind, due_date, extended, received, rights_kind

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("receipt", "due"),
    [
        (datetime(2026, 3, 15, 9, 0, tzinfo=PARIS), date(2026, 4, 15)),
        (datetime(2026, 1, 31, 12, 0, tzinfo=PARIS), date(2026, 2, 28)),  # no 31 February: its last day
        (datetime(2028, 1, 30, 12, 0, tzinfo=PARIS), date(2028, 2, 29)),  # a leap year
        (datetime(2026, 12, 15, 12, 0, tzinfo=PARIS), date(2027, 1, 15)),  # across the year
        (datetime(2026, 8, 31, 12, 0, tzinfo=PARIS), date(2026, 9, 30)),
    ],
)
def test_due_one_month_after_the_day_of_receipt(receipt, due):
    assert due_date(receipt) == due


def test_the_day_is_read_in_the_receipts_own_offset():
    late_evening_in_new_york = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    moment, zone = received(late_evening_in_new_york)
    assert due_date(moment) == date(2026, 12, 30)  # 30 November there, though 1 December in Paris and UTC
    assert zone == "UTC-05:00"


def test_a_time_without_offset_is_read_in_paris_and_none_means_now():
    moment, zone = received(datetime(2026, 3, 31, 23, 30))
    assert (moment.tzinfo, zone) == (ZoneInfo(DEFAULT_ZONE), DEFAULT_ZONE)
    assert due_date(moment) == date(2026, 4, 30)
    now = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)  # already 1 June in Paris
    moment, zone = received(None, now=now)
    assert zone == DEFAULT_ZONE
    assert due_date(moment) == date(2026, 7, 1)


def test_the_extension_adds_two_months_to_the_due_date():
    assert extended(date(2026, 4, 15)) == date(2026, 6, 15)
    assert extended(date(2026, 12, 31)) == date(2027, 2, 28)


def test_a_kind_outside_the_vocabulary_is_an_error_naming_the_accepted_ones():
    assert rights_kind("access") is RightsKind.ACCESS
    with pytest.raises(InvalidInputError) as error:
        rights_kind("deletion")
    assert "erasure, access, objection" in str(error.value)
