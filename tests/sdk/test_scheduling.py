"""`next_lawful_call`: the first moment a call becomes lawful, or None when waiting cannot help.

Also the rolling 30-day window of `sdk.telephone` that feeds it: an attempt counts for 30 days, then drops out.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from consentry.sdk import Request, evaluate, next_lawful_call, request_from_fields
from consentry.sdk.telephone import attempts_within, frequency_frees_at

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")
CONSENTED = {"consent_state": "opt_in", "consent_date": "2026-09-01"}
FRIDAY_EVENING = "2026-09-18T20:30:00+02:00"


def call_request(
    *, at: str, audience: str = "b2c", zone: str = "Europe/Paris", subdivision: str | None = None, **facts
) -> Request:
    request = request_from_fields(
        {
            "jurisdiction": "FR",
            "channel": "phone_human",
            "audience": audience,
            "evaluated_at": at,
            "facts": {"callee_timezone": zone, **facts},
        }
    )
    if subdivision is not None:
        request = replace(request, contact=replace(request.contact, subdivision=subdivision))
    return request


def paris(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=PARIS)


def lawful_at(request: Request, moment: datetime, attempts=()) -> bool:
    facts = request.facts
    if attempts:
        facts = facts.replace(calls_in_last_30_days=len(attempts_within(attempts, moment)))
    return evaluate(replace(request, at=moment, contact=replace(request.contact, facts=facts))).allowed


# -- waiting for the window -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "facts", "expected"),
    [
        (FRIDAY_EVENING, CONSENTED, paris("2026-09-21", 10)),  # opt-in era, consenting consumer
        ("2026-07-10T20:30:00+02:00", {"bloctel_registered": False}, paris("2026-07-13", 10)),  # Bloctel era
    ],
    ids=["opt-in-era", "bloctel-era"],
)
def test_after_friday_evening_the_next_lawful_call_is_monday_at_ten(at, facts, expected):
    moment = next_lawful_call(call_request(at=at, **facts))
    assert moment == expected
    assert moment.utcoffset() == timedelta(hours=2)


def test_professionals_are_not_held_to_consumer_hours():
    # D223-9 protects consumers only (RULES.md §2, [H] on hours): a named professional may be called at once.
    request = call_request(at=FRIDAY_EVENING, audience="b2b_nominative", offer_related_to_profession=True)
    assert next_lawful_call(request) == datetime.fromisoformat(FRIDAY_EVENING)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-09-15T13:10:00+02:00", paris("2026-09-15", 14)),  # lunch break
        ("2026-09-15T13:00:00+02:00", paris("2026-09-15", 14)),  # the end of the morning window is outside
        ("2026-09-15T08:00:00+02:00", paris("2026-09-15", 10)),  # too early
        ("2026-09-15T20:00:00+02:00", paris("2026-09-16", 10)),  # the end of the day is outside
        ("2026-09-15T11:17:00+02:00", paris("2026-09-15", 11, 17)),  # already inside: now
    ],
)
def test_the_next_lawful_call_is_the_next_opening_of_a_window(at, expected):
    assert next_lawful_call(call_request(at=at, **CONSENTED)) == expected


@pytest.mark.parametrize(
    ("at", "expected", "subdivision"),
    [
        ("2026-11-10T20:30:00+01:00", paris("2026-11-12", 10), None),  # skips Wednesday 11 November
        ("2026-07-13T20:30:00+02:00", paris("2026-07-15", 10), None),  # skips Tuesday 14 July (Bloctel era)
        ("2026-05-13T20:30:00+02:00", paris("2026-05-15", 10), None),  # skips Ascension Thursday
        ("2026-04-02T20:30:00+02:00", paris("2026-04-03", 10), None),  # Good Friday is a working day in Paris
        ("2026-04-02T20:30:00+02:00", paris("2026-04-07", 10), "57"),  # in Moselle: Good Friday, weekend, Easter
    ],
)
def test_before_a_holiday_the_next_lawful_call_skips_it(at, expected, subdivision):
    request = call_request(
        at=at, subdivision=subdivision, bloctel_registered=False, consent_state="opt_in", consent_date="2026-01-05"
    )
    assert next_lawful_call(request) == expected


def test_the_window_opens_in_the_callees_time_zone():
    # 18:30 on Friday in Paris is 20:30 in La Réunion: closed; Monday 10:00 there is 08:00 in Paris.
    moment = next_lawful_call(call_request(at="2026-09-18T18:30:00+02:00", zone="Indian/Reunion", **CONSENTED))
    assert moment == datetime(2026, 9, 21, 10, tzinfo=REUNION)
    assert moment == paris("2026-09-21", 8)


# -- waiting for the frequency cap ----------------------------------------------------------------------------------

FOUR_EARLY_SEPTEMBER = [paris(f"2026-09-0{day}", 11) for day in (1, 2, 3, 4)]


def test_with_four_attempts_the_next_call_waits_until_the_oldest_leaves_the_30_day_window():
    request = call_request(at="2026-09-15T11:00:00+02:00", **CONSENTED)
    moment = next_lawful_call(request, attempts=FOUR_EARLY_SEPTEMBER)
    assert moment == paris("2026-10-01", 11)  # 1 September 11:00 + 30 days, a Thursday inside the window
    assert lawful_at(request, moment, FOUR_EARLY_SEPTEMBER)
    assert not lawful_at(request, moment - timedelta(minutes=1), FOUR_EARLY_SEPTEMBER)


def test_when_the_oldest_attempt_drops_out_at_a_closed_hour_the_call_waits_for_the_next_window():
    attempts = [paris("2026-08-28", 19, 30), *FOUR_EARLY_SEPTEMBER[1:]]  # frees on Sunday 27 September 19:30
    moment = next_lawful_call(call_request(at="2026-09-15T11:00:00+02:00", **CONSENTED), attempts=attempts)
    assert moment == paris("2026-09-28", 10)


def test_three_attempts_leave_room_for_a_fourth_now():
    request = call_request(at="2026-09-15T11:00:00+02:00", **CONSENTED)
    assert next_lawful_call(request, attempts=FOUR_EARLY_SEPTEMBER[:3]) == paris("2026-09-15", 11)


def test_a_count_of_calls_without_their_dates_cannot_say_when_the_cap_frees():
    request = call_request(at="2026-09-15T11:00:00+02:00", calls_in_last_30_days=4, **CONSENTED)
    assert next_lawful_call(request) is None


def test_after_a_refusal_before_august_2026_the_call_waits_for_the_end_of_the_60_days():
    # Refusal on Thursday 30 April 2026: blocked through Monday 29 June, calls resume on Tuesday 30 June.
    request = call_request(
        at="2026-06-15T11:00:00+02:00", refused_during_call_date="2026-04-30", bloctel_registered=False
    )
    assert next_lawful_call(request) == paris("2026-06-30", 10)


# -- when waiting does not help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "facts"),
    [
        (FRIDAY_EVENING, {"consent_state": "withdrawn"}),
        (FRIDAY_EVENING, {"consent_state": "none"}),
        (FRIDAY_EVENING, {"objected": True, **CONSENTED}),
        ("2026-07-10T20:30:00+02:00", {"bloctel_registered": True}),
        # Monday 10 August 20:30: the next window is on 11 August, when the opt-in rules forbid the call.
        ("2026-08-10T20:30:00+02:00", {"bloctel_registered": False}),
    ],
    ids=["withdrawn", "no-consent", "objected", "on-bloctel", "across-the-opt-in-switch"],
)
def test_no_next_lawful_call_when_the_block_is_not_about_timing(at, facts):
    assert next_lawful_call(call_request(at=at, **facts)) is None


def test_no_next_lawful_call_beyond_the_horizon():
    request = call_request(at=FRIDAY_EVENING, **CONSENTED)
    assert next_lawful_call(request, horizon=timedelta(hours=12)) is None
    assert next_lawful_call(request, horizon=timedelta(days=3)) == paris("2026-09-21", 10)


@pytest.mark.parametrize(
    "at",
    [
        FRIDAY_EVENING,
        "2026-09-15T13:30:00+02:00",
        "2026-12-24T19:59:00+01:00",
        "2026-12-31T20:00:00+01:00",
        "2026-10-24T12:00:00+02:00",  # the weekend of the change to winter time
    ],
)
def test_the_next_lawful_call_is_lawful_and_nothing_earlier_on_the_way_is(at):
    request = call_request(at=at, **CONSENTED)
    moment = next_lawful_call(request)
    assert moment is not None
    assert moment >= request.at
    assert lawful_at(request, moment)
    if moment > request.at:
        assert not lawful_at(request, moment - timedelta(minutes=1))


# -- the rolling window ---------------------------------------------------------------------------------------------


def test_an_attempt_counts_for_exactly_30_days():
    attempt = paris("2026-09-01", 11)
    assert attempts_within([attempt], attempt + timedelta(days=30) - timedelta(seconds=1)) == [attempt]
    assert attempts_within([attempt], attempt + timedelta(days=30)) == []


def test_attempts_after_the_moment_do_not_count():
    assert attempts_within([paris("2026-09-20", 11)], paris("2026-09-15", 11)) == []


@pytest.mark.parametrize(
    ("attempts", "frees"),
    [
        ([], paris("2026-09-15", 11)),
        (FOUR_EARLY_SEPTEMBER[:3], paris("2026-09-15", 11)),
        (FOUR_EARLY_SEPTEMBER, paris("2026-10-01", 11)),
        # Five attempts: the cap frees when only three are left, i.e. when the second oldest leaves.
        ([*FOUR_EARLY_SEPTEMBER, paris("2026-09-05", 11)], paris("2026-10-02", 11)),
        # Order does not matter.
        (list(reversed(FOUR_EARLY_SEPTEMBER)), paris("2026-10-01", 11)),
        # An attempt already out of the window does not count.
        ([paris("2026-08-01", 11), *FOUR_EARLY_SEPTEMBER[:3]], paris("2026-09-15", 11)),
    ],
)
def test_frequency_frees_at_the_first_moment_fewer_than_four_attempts_are_in_the_window(attempts, frees):
    moment = paris("2026-09-15", 11)
    assert frequency_frees_at(attempts, moment) == frees
    assert len(attempts_within(attempts, frees)) < 4
