"""The tag a sync writes for a record: call hours judged in the callee's own zone, not in Paris for everyone."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from webhook_server.sync import _tag

# 22:00 UTC on a Tuesday: 17:00 in New York (within the TCPA's 08:00-21:00), 23:00 in Paris.
EVENING_IN_PARIS = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def record(jurisdiction: str | None, phone: str | None = None) -> SimpleNamespace:
    """A row of the sync's contacts query, as `_tag` reads it."""
    return SimpleNamespace(
        email="someone@example.com",
        phone=phone,
        source_record_id="r-1",
        audience="b2c",
        jurisdiction=jurisdiction,
        kept_fields=None,
        vendor_state="subscribed",
        written_tag=None,
    )


def phone_verdict(row, at=EVENING_IN_PARIS) -> str:
    return _tag(row, [], "default", at).status["phone_human"]


def test_a_us_record_is_judged_in_new_york_time():
    assert phone_verdict(record("US")) == "allowed_with_conditions"
    assert phone_verdict(record("US"), at=datetime(2026, 11, 25, 3, 0, tzinfo=UTC)) == "forbidden"  # 22:00 there


@pytest.mark.parametrize(
    ("phone", "verdict"),
    [
        ("+1 808 555 0100", "allowed_with_conditions"),  # Honolulu: 12:00 there
        ("+1 212 555 0100", "allowed_with_conditions"),  # New York: 17:00
        ("not a number", "allowed_with_conditions"),  # no zone from it: the jurisdiction's legal time
    ],
)
def test_the_numbers_own_zone_comes_first(phone, verdict):
    assert phone_verdict(record("US", phone)) == verdict


def test_hawaii_is_still_in_hours_when_new_york_is_not():
    at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 22:00 in New York, 17:00 in Honolulu
    assert phone_verdict(record("US", "+1 808 555 0100"), at=at) == "allowed_with_conditions"
    assert phone_verdict(record("US", "+1 212 555 0100"), at=at) == "forbidden"
