"""French consumer phone canvassing at its boundaries: dates, hours, holidays, time zones, the call cap."""

from dataclasses import replace
from datetime import date

import pytest

from consentry.sdk import evaluate, next_lawful_call, request_from_fields
from consentry.sdk.rules._base import legal_day

CONSENT = {"consent_state": "opt_in", "consent_date": "2026-09-01"}


def call(at: str, *, audience: str = "b2c", zone: str = "Europe/Paris", subdivision: str | None = None, **facts):
    request = request_from_fields(
        {
            "jurisdiction": "FR",
            "channel": "phone_human",
            "audience": audience,
            "evaluated_at": at,
            "facts": {"callee_timezone": zone, **facts},
        }
    )
    if subdivision:
        request = replace(request, contact=replace(request.contact, subdivision=subdivision))
    return request


def decide(at: str, **options):
    return evaluate(call(at, **options))


def test_the_same_consumer_gets_the_bloctel_era_answer_on_10_august_and_the_opt_in_answer_on_11_august():
    before = decide("2026-08-10T11:00:00+02:00", bloctel_registered=False)
    after = decide("2026-08-11T11:00:00+02:00", bloctel_registered=False)
    assert before.allowed
    assert "FR_PHONE_B2C_BLOCTEL_ERA" in before.reason_codes
    assert not after.allowed
    assert "FR_PHONE_B2C_OPTIN_2026" in after.reason_codes


def test_the_switch_is_read_on_the_day_in_paris_whatever_the_offset():
    """22:30 UTC on 10 August is already 11 August in Paris: the opt-in regime, though the timestamp says the 10th."""
    decision = decide("2026-08-10T22:30:00+00:00", bloctel_registered=False)
    assert "FR_PHONE_B2C_OPTIN_2026" in decision.reason_codes
    assert "FR_PHONE_B2C_BLOCTEL_ERA" not in decision.reason_codes


@pytest.mark.parametrize("code", ["FR", "fr"])
def test_a_rule_s_legal_day_is_the_jurisdiction_s_whatever_the_code_s_case(code):
    request = call("2026-08-10T22:30:00+00:00")
    assert legal_day(replace(request, contact=replace(request.contact, jurisdiction=code))) == date(2026, 8, 11)


def test_bloctel_registration_forbids_the_call_in_the_bloctel_era():
    decision = decide("2026-08-10T11:00:00+02:00", bloctel_registered=True)
    assert not decision.allowed
    assert "FR_PHONE_BLOCTEL_REGISTERED" in decision.reason_codes


@pytest.mark.parametrize(
    ("local_time", "allowed"),
    [
        ("09:59", False),
        ("10:00", True),
        ("12:59", True),
        ("13:00", False),
        ("13:59", False),
        ("14:00", True),
        ("19:59", True),
        ("20:00", False),
    ],
)
def test_calling_windows_end_exclusive(local_time, allowed):
    decision = decide(f"2026-09-15T{local_time}:00+02:00", **CONSENT)
    assert decision.allowed is allowed
    assert ("FR_PHONE_HOURS" in decision.reason_codes) is True


@pytest.mark.parametrize("day", ["2026-09-19", "2026-09-20"])
def test_no_consumer_calls_at_weekends(day):
    assert not decide(f"{day}T11:00:00+02:00", **CONSENT).allowed


@pytest.mark.parametrize("holiday", ["2026-07-14", "2026-11-11", "2026-12-25"])
def test_no_consumer_calls_on_public_holidays(holiday):
    decision = decide(f"{holiday}T11:00:00+01:00", bloctel_registered=False, **CONSENT)
    assert not decision.allowed
    assert "FR_PHONE_PUBLIC_HOLIDAY" in decision.reason_codes


def test_alsace_moselle_adds_good_friday_and_saint_stephen():
    good_friday = "2026-04-03T11:00:00+02:00"
    assert decide(good_friday, bloctel_registered=False).allowed
    assert not decide(good_friday, bloctel_registered=False, subdivision="57").allowed
    assert not decide("2025-12-26T11:00:00+01:00", bloctel_registered=False, subdivision="67").allowed


@pytest.mark.parametrize(
    ("zone", "allowed"),
    [("Europe/Paris", True), ("Indian/Reunion", False), ("America/Martinique", True)],
)
def test_windows_are_judged_in_the_callees_time_zone(zone, allowed):
    # 16:30 UTC is 18:30 in Paris, 20:30 in La Réunion (closed) and 12:30 in Martinique.
    assert decide("2026-09-15T16:30:00+00:00", zone=zone, **CONSENT).allowed is allowed


@pytest.mark.parametrize(("calls", "allowed"), [(3, True), (4, False)])
def test_the_fourth_call_in_30_days_is_allowed_and_the_fifth_is_not(calls, allowed):
    decision = decide("2026-09-15T11:00:00+02:00", calls_in_last_30_days=calls, **CONSENT)
    assert decision.allowed is allowed
    assert "FR_PHONE_FREQUENCY" in decision.reason_codes


def test_named_professionals_are_called_on_an_opt_out_basis_without_consumer_hours():
    decision = decide("2026-09-15T13:30:00+02:00", audience="b2b_nominative")
    assert decision.allowed
    assert "FR_PHONE_B2B_OPTOUT" in decision.reason_codes


def test_the_next_lawful_call_after_a_friday_evening_is_monday_ten_oclock():
    request = call("2026-09-18T20:30:00+02:00", **CONSENT)
    assert next_lawful_call(request).isoformat() == "2026-09-21T10:00:00+02:00"


def test_the_next_lawful_call_after_the_lunch_break_starts_at_two():
    request = call("2026-09-15T13:10:00+02:00", **CONSENT)
    assert next_lawful_call(request).isoformat() == "2026-09-15T14:00:00+02:00"


def test_no_next_lawful_call_when_waiting_cannot_help():
    assert next_lawful_call(call("2026-09-15T13:10:00+02:00", consent_state="withdrawn")) is None
