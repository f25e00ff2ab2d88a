"""The tag a sync writes for a record is a standing verdict: the same whatever the hour or the day of the sync."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from consentry.sdk.consent_state import ConsentEvent, EventKind
from consentry.webhook_server.sync import _tag

MONDAY = datetime(2026, 12, 21, 0, 30, tzinfo=UTC)  # the week of 25 December, a French public holiday
EVERY_HOUR_OF_A_WEEK = [MONDAY + timedelta(hours=hours) for hours in range(7 * 24)]


def record(jurisdiction: str) -> SimpleNamespace:
    """A row of the sync's contacts query, as `_tag` reads it."""
    return SimpleNamespace(
        email="someone@example.com",
        phone=None,
        source_record_id="r-1",
        audience="b2c",
        jurisdiction=jurisdiction,
        kept_fields=None,
        vendor_state="subscribed",
        written_tag=None,
    )


def consent_to_calls() -> list[ConsentEvent]:
    given = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return [
        ConsentEvent("c-1", EventKind.GRANTED, channel, given, "hubspot", "default", method="signed_form")
        for channel in ("phone_human", "sms")
    ]


def tags_over_the_week(jurisdiction: str, events) -> set[tuple]:
    return {
        tuple(sorted(_tag(record(jurisdiction), events, "default", at).status.items())) for at in EVERY_HOUR_OF_A_WEEK
    }


def test_a_french_consumers_tag_does_not_change_at_night_on_sundays_or_on_holidays():
    """Before, the phone and SMS verdicts turned to forbidden outside 10:00-13:00 and 14:00-20:00 on working days."""
    [tag] = tags_over_the_week("FR", consent_to_calls())
    assert dict(tag) == {
        "email": "forbidden",
        "phone_human": "allowed_with_conditions",
        "sms": "allowed_with_conditions",
    }


def test_a_us_tag_does_not_change_with_the_hour():
    """Before, a US record's calls were judged in Paris time and forbidden from 21:00 there. (With its consent:
    without one, the number's Do-Not-Call registration, which no CRM holds, is not known, and forbids calls.)"""
    [tag] = tags_over_the_week("US", consent_to_calls())
    assert dict(tag)["phone_human"] == "allowed_with_conditions"


def test_a_standing_verdict_still_forbids_what_is_forbidden_at_every_hour():
    """Without consent, French consumer calls need it (from 2026-08-11): no hour makes them allowed."""
    [tag] = tags_over_the_week("FR", [])
    assert dict(tag)["phone_human"] == "forbidden"
