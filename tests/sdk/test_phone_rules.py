"""French telephone canvassing by a human caller, at its boundaries (RULES.md §4).

The Bloctel era ends on 2026-08-10 and the opt-in era starts on 2026-08-11; days, hours, holidays, the 4-calls cap
and (until 2026-08-10) the 60-day pause after a refusal apply to consumers; professionals are called on an opt-out
basis.
"""

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from consentry.sdk import (
    Decision,
    Effect,
    InvalidInputError,
    LegalBasis,
    Request,
    Verdict,
    evaluate,
    request_from_fields,
)
from consentry.sdk.rules import _evaluate

PARIS = ZoneInfo("Europe/Paris")
# A phone consent collected early in 2026: still under its 1-year lifetime for every 2026 date used below.
CONSENTED = {"consent_state": "opt_in", "consent_date": "2026-01-05"}


def phone_request(
    *, at: str, audience: str = "b2c", zone: str | None = "Europe/Paris", subdivision: str | None = None, **facts
) -> Request:
    """A human phone call in France; `zone` is the callee's time zone (None: not known)."""
    if zone is not None:
        facts["callee_timezone"] = zone
    request = request_from_fields(
        {"jurisdiction": "FR", "channel": "phone_human", "audience": audience, "evaluated_at": at, "facts": facts}
    )
    if subdivision is not None:
        request = replace(request, contact=replace(request.contact, subdivision=subdivision))
    return request


def decide(**options) -> Decision:
    return evaluate(phone_request(**options))


def codes(decision: Decision, effect: Effect) -> set[str]:
    return {reason.code for reason in decision.reasons if reason.effect is effect}


def blocks(decision: Decision) -> set[str]:
    return codes(decision, Effect.BLOCKS)


# -- the switch from Bloctel to opt-in ---------------------------------------------------------------------------


def test_on_10_august_a_consumer_not_on_bloctel_may_be_called_with_conditions():
    decision = decide(at="2026-08-10T11:00:00+02:00", bloctel_registered=False)
    assert decision.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "FR_PHONE_B2C_BLOCTEL_ERA" in codes(decision, Effect.PERMITS)
    assert "must_have_checked_bloctel_within_last_month" in decision.conditions
    assert "must_call_within_allowed_days_and_hours_consumer_tz" in decision.conditions
    assert decision.legal_basis is LegalBasis.LEGITIMATE_INTEREST


def test_on_10_august_a_consumer_on_bloctel_may_not_be_called():
    decision = decide(at="2026-08-10T11:00:00+02:00", bloctel_registered=True)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "FR_PHONE_BLOCTEL_REGISTERED" in blocks(decision)


def test_a_bloctel_registration_counts_only_once_effective():
    pending = decide(at="2026-07-15T11:00:00+02:00", bloctel_registered=True, bloctel_effective_date="2026-07-20")
    effective = decide(at="2026-07-21T11:00:00+02:00", bloctel_registered=True, bloctel_effective_date="2026-07-20")
    assert pending.allowed
    assert "FR_PHONE_BLOCTEL_REGISTERED" in blocks(effective)


@pytest.mark.parametrize("bloctel_registered", [False, True])
def test_from_11_august_the_same_consumer_needs_prior_consent(bloctel_registered):
    decision = decide(at="2026-08-11T11:00:00+02:00", bloctel_registered=bloctel_registered)
    assert decision.verdict is Verdict.FORBIDDEN
    assert blocks(decision) == {"FR_PHONE_B2C_OPTIN_2026"}
    assert "rebuild_or_recollect_consent" in decision.conditions
    # Bloctel no longer exists: neither its permission nor its ban is given as a reason.
    assert not {"FR_PHONE_B2C_BLOCTEL_ERA", "FR_PHONE_BLOCTEL_REGISTERED"} & set(decision.reason_codes)


def test_from_11_august_a_consumer_who_consented_to_phone_canvassing_may_be_called():
    decision = decide(at="2026-08-11T11:00:00+02:00", consent_state="opt_in", consent_date="2026-08-11")
    assert decision.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "FR_PHONE_B2C_OPTIN_2026" in codes(decision, Effect.PERMITS)
    assert "must_keep_consent_proof" in decision.conditions
    assert decision.legal_basis is LegalBasis.CONSENT


def test_the_regime_follows_the_french_calendar_day_not_the_offset_of_the_timestamp():
    # 23:30 UTC on 10 August is already 01:30 on 11 August in Paris: the opt-in rules apply (and the hour is closed).
    decision = decide(at="2026-08-10T23:30:00+00:00", bloctel_registered=False)
    assert "FR_PHONE_B2C_OPTIN_2026" in blocks(decision)
    assert "FR_PHONE_B2C_BLOCTEL_ERA" not in decision.reason_codes


@pytest.mark.parametrize("at", ["2026-07-15T11:00:00+02:00", "2026-09-15T11:00:00+02:00"])
def test_a_related_offer_within_a_contract_in_progress_needs_no_consent_in_either_era(at):
    decision = decide(at=at, bloctel_registered=True, contract_in_progress=True, offer_related_to_contract=True)
    assert decision.allowed
    assert "FR_PHONE_CONTRACT_IN_PROGRESS" in codes(decision, Effect.PERMITS)
    assert decision.legal_basis is LegalBasis.CONTRACT


def test_a_former_customer_is_not_within_a_contract_in_progress():
    decision = decide(at="2026-09-15T11:00:00+02:00", contract_in_progress=False, existing_customer=True)
    assert "FR_PHONE_B2C_OPTIN_2026" in blocks(decision)


def test_a_contract_in_progress_with_an_unknown_link_to_the_offer_is_not_assumed_related():
    decision = decide(at="2026-09-15T11:00:00+02:00", contract_in_progress=True)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "FACTS_MISSING" in blocks(decision)
    assert decision.missing_facts == ("offer_related_to_contract",)


# -- hours, in the callee's local time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local_time", "allowed", "closes"),
    [
        ("09:59", False, None),
        ("10:00", True, "13:00"),
        ("12:59", True, "13:00"),
        ("13:00", False, None),
        ("13:59", False, None),
        ("14:00", True, "20:00"),
        ("19:59", True, "20:00"),
        ("20:00", False, None),
    ],
)
def test_consumer_calls_only_from_10_to_13_and_from_14_to_20(local_time, allowed, closes):
    decision = decide(at=f"2026-09-15T{local_time}:00+02:00", **CONSENTED)
    assert decision.allowed is allowed
    if allowed:
        assert "FR_PHONE_HOURS" in codes(decision, Effect.INFORMS)
        assert decision.valid_until == datetime.fromisoformat(f"2026-09-15T{closes}:00+02:00")
    else:
        assert {"FR_PHONE_HOURS", "FR_PHONE_HOURS_CONSUMER_TZ"} <= blocks(decision)
        assert decision.conditions == ("must_call_within_allowed_days_and_hours_consumer_tz",)


@pytest.mark.parametrize(("local_time", "end_of_window"), [("13:00", True), ("20:00", True), ("13:59", False)])
def test_the_end_of_each_window_is_outside_by_convention(local_time, end_of_window):
    decision = decide(at=f"2026-09-15T{local_time}:00+02:00", **CONSENTED)
    assert ("FR_PHONE_WINDOW_END_EXCLUSIVE" in blocks(decision)) is end_of_window


@pytest.mark.parametrize(("day", "allowed"), [("2026-09-18", True), ("2026-09-19", False), ("2026-09-20", False)])
def test_no_consumer_calls_on_saturday_or_sunday(day, allowed):
    decision = decide(at=f"{day}T11:00:00+02:00", **CONSENTED)
    assert decision.allowed is allowed
    if not allowed:
        assert "FR_PHONE_HOURS" in blocks(decision)
        assert "FR_PHONE_PUBLIC_HOLIDAY" not in decision.reason_codes


@pytest.mark.parametrize(
    ("holiday", "ordinary_day"),
    [
        ("2026-04-06T11:00:00+02:00", "2026-04-07T11:00:00+02:00"),  # Easter Monday
        ("2026-05-14T11:00:00+02:00", "2026-05-13T11:00:00+02:00"),  # Ascension
        ("2026-05-25T11:00:00+02:00", "2026-05-26T11:00:00+02:00"),  # Whit Monday
        ("2026-07-14T11:00:00+02:00", "2026-07-15T11:00:00+02:00"),  # 14 July, Bloctel era
        ("2026-11-11T11:00:00+01:00", "2026-11-12T11:00:00+01:00"),  # 11 November, opt-in era
        ("2026-12-25T11:00:00+01:00", "2026-12-24T11:00:00+01:00"),  # Christmas
    ],
)
def test_no_consumer_calls_on_a_public_holiday(holiday, ordinary_day):
    on_holiday = decide(at=holiday, bloctel_registered=False, **CONSENTED)
    assert on_holiday.verdict is Verdict.FORBIDDEN
    assert {"FR_PHONE_HOURS", "FR_PHONE_PUBLIC_HOLIDAY"} <= blocks(on_holiday)
    assert decide(at=ordinary_day, bloctel_registered=False, **CONSENTED).allowed


@pytest.mark.parametrize("subdivision", ["57", "67", "68"])
@pytest.mark.parametrize(
    "day",
    [
        "2026-04-03T11:00:00+02:00",  # Good Friday, Bloctel era
        "2025-12-26T11:00:00+01:00",  # 26 December, a Friday, Bloctel era
    ],
)
def test_alsace_moselle_keeps_good_friday_and_26_december(day, subdivision):
    local = decide(at=day, subdivision=subdivision, bloctel_registered=False)
    assert local.verdict is Verdict.FORBIDDEN
    assert "FR_PHONE_LOCAL_HOLIDAY_UNCLEAR" in blocks(local)
    assert "FR_PHONE_PUBLIC_HOLIDAY" not in local.reason_codes


@pytest.mark.parametrize("day", ["2026-04-03T11:00:00+02:00", "2025-12-26T11:00:00+01:00"])
def test_the_rest_of_france_works_on_good_friday_and_26_december(day):
    assert decide(at=day, bloctel_registered=False).allowed


def test_a_departement_without_holidays_of_its_own_is_judged_on_national_holidays():
    try:
        decision = decide(at="2026-09-15T11:00:00+02:00", subdivision="75", **CONSENTED)
    except InvalidInputError:
        return
    assert decision.allowed


# -- time zones ----------------------------------------------------------------------------------------------------

# 09:30 UTC on Tuesday 15 September 2026 is 11:30 in Paris, 13:30 in La Réunion (lunch break) and 05:30 in
# Martinique: the same instant is inside the window in Paris only.
SAME_INSTANT = "2026-09-15T09:30:00+00:00"


@pytest.mark.parametrize(
    ("zone", "allowed"),
    [("Europe/Paris", True), ("Indian/Reunion", False), ("America/Martinique", False)],
)
def test_windows_are_judged_in_the_callees_time_zone(zone, allowed):
    decision = decide(at=SAME_INSTANT, zone=zone, **CONSENTED)
    assert decision.allowed is allowed
    if allowed:
        assert "FR_PHONE_HOURS_CONSUMER_TZ" in codes(decision, Effect.INFORMS)
        assert decision.valid_until == datetime(2026, 9, 15, 13, tzinfo=PARIS)
    else:
        assert "FR_PHONE_HOURS_CONSUMER_TZ" in blocks(decision)


def test_an_evening_call_from_paris_is_still_afternoon_in_martinique():
    # 21:00 in Paris (closed there) is 15:00 in Martinique.
    assert not decide(at="2026-09-15T21:00:00+02:00", **CONSENTED).allowed
    assert decide(at="2026-09-15T21:00:00+02:00", zone="America/Martinique", **CONSENTED).allowed


@pytest.fixture
def fresh_decisions():
    """An empty decision cache, before and after: these tests depend on the offset of `at`."""
    _evaluate.cache_clear()
    yield
    _evaluate.cache_clear()


@pytest.mark.usefixtures("fresh_decisions")
def test_without_a_callee_time_zone_the_offset_of_the_timestamp_stands_for_it():
    assert decide(at="2026-09-15T11:00:00+02:00", zone=None, **CONSENTED).allowed
    assert not decide(at="2026-09-15T21:00:00+02:00", zone=None, **CONSENTED).allowed


@pytest.mark.usefixtures("fresh_decisions")
def test_the_same_instant_written_with_another_offset_is_judged_at_its_own_wall_clock():
    at_eleven = phone_request(at="2026-09-15T11:00:00+02:00", zone=None, **CONSENTED)
    at_nine = phone_request(at="2026-09-15T09:00:00+00:00", zone=None, **CONSENTED)
    assert evaluate(at_eleven).allowed
    assert not evaluate(at_nine).allowed


# -- how often ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("calls", "allowed"), [(0, True), (3, True), (4, False), (7, False)])
def test_the_fourth_call_in_30_days_is_allowed_and_the_fifth_is_not(calls, allowed):
    decision = decide(at="2026-09-15T11:00:00+02:00", calls_in_last_30_days=calls, **CONSENTED)
    assert decision.allowed is allowed
    if allowed:
        assert "FR_PHONE_FREQUENCY" in codes(decision, Effect.INFORMS)
        assert {"must_log_attempt_for_frequency_cap", "max_4_attempts_per_30_days"} <= set(decision.conditions)
    else:
        assert blocks(decision) == {"FR_PHONE_FREQUENCY"}
        assert decision.conditions == ("max_4_attempts_per_30_days",)


@pytest.mark.parametrize(("answered", "unanswered", "allowed"), [(1, 2, True), (1, 3, False), (0, 4, False)])
def test_unanswered_attempts_count_towards_the_cap(answered, unanswered, allowed):
    decision = decide(
        at="2026-09-15T11:00:00+02:00", attempts_answered=answered, attempts_unanswered=unanswered, **CONSENTED
    )
    assert decision.allowed is allowed


def test_the_cap_applied_in_the_bloctel_era_too():
    decision = decide(at="2026-07-15T11:00:00+02:00", bloctel_registered=False, calls_in_last_30_days=4)
    assert blocks(decision) == {"FR_PHONE_FREQUENCY"}


# -- after a refusal ------------------------------------------------------------------------------------------------

# A refusal on Thursday 30 April 2026: day 1 of the pause is 1 May, day 60 is Monday 29 June, calls resume on
# Tuesday 30 June (RULES.md §4.3).
REFUSED = "2026-04-30"


@pytest.mark.parametrize(
    ("at", "paused"),
    [
        ("2026-05-04T11:00:00+02:00", True),
        ("2026-06-29T11:00:00+02:00", True),
        ("2026-06-30T11:00:00+02:00", False),
        ("2026-07-15T11:00:00+02:00", False),
    ],
)
def test_until_august_2026_a_refusal_pauses_calls_for_60_full_days(at, paused):
    decision = decide(at=at, bloctel_registered=False, refused_during_call_date=REFUSED)
    assert decision.allowed is not paused
    assert ("FR_PHONE_REFUSAL_60D" in blocks(decision)) is paused
    if paused:
        refusal = next(r for r in decision.reasons if r.code == "FR_PHONE_REFUSAL_60D")
        assert "2026-06-30" in refusal.detail


def test_from_11_august_a_refusal_withdraws_consent_for_good_not_for_60_days():
    decision = decide(
        at="2026-11-16T11:00:00+01:00",
        consent_state="opt_in",
        consent_date="2026-08-20",
        refused_during_call_date="2026-09-01",
    )
    assert decision.verdict is Verdict.FORBIDDEN
    assert {"FR_CONSENT_WITHDRAWN", "GDPR_OBJECTION_ABSOLUTE"} <= blocks(decision)
    assert "FR_PHONE_REFUSAL_60D" not in decision.reason_codes
    assert "must_add_to_suppression_list" in decision.conditions


def test_a_new_consent_after_the_refusal_allows_calls_again():
    decision = decide(
        at="2026-11-16T11:00:00+01:00",
        consent_state="opt_in",
        consent_date="2026-09-20",
        refused_during_call_date="2026-09-01",
    )
    assert decision.allowed
    assert "FR_PHONE_B2C_OPTIN_2026" in codes(decision, Effect.PERMITS)


# -- professionals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        "2026-07-15T11:00:00+02:00",  # Bloctel era
        "2026-09-15T11:00:00+02:00",  # opt-in era
        "2026-09-19T21:00:00+02:00",  # Saturday evening: D223-9 protects consumers only [H]
    ],
)
def test_a_named_professional_is_called_on_an_opt_out_basis(at):
    decision = decide(at=at, audience="b2b_nominative", bloctel_registered=True, offer_related_to_profession=True)
    assert decision.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert decision.reason_codes == ("FR_PHONE_B2B_OPTOUT",)
    assert decision.legal_basis is LegalBasis.LEGITIMATE_INTEREST
    assert {
        "must_identify_caller_and_principal_and_commercial_purpose_at_start",
        "must_offer_objection_during_call",
        "must_relate_to_recipient_profession",
    } <= set(decision.conditions)


def test_a_company_switchboard_is_called_on_an_opt_out_basis():
    decision = decide(at="2026-09-15T11:00:00+02:00", audience="b2b_generic")
    assert decision.reason_codes == ("FR_PHONE_B2B_OPTOUT",)
    assert "must_relate_to_recipient_profession" not in decision.conditions


@pytest.mark.parametrize("private", [{"callee_is_consumer": True}, {"offer_related_to_profession": False}])
def test_a_professional_called_about_a_private_matter_is_a_consumer(private):
    decision = decide(at="2026-09-15T11:00:00+02:00", audience="b2b_nominative", **private)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "FR_PHONE_B2C_OPTIN_2026" in blocks(decision)
    assert "FR_PHONE_B2B_OPTOUT" not in decision.reason_codes


def test_an_objection_stops_calls_to_professionals_too():
    decision = decide(at="2026-09-15T11:00:00+02:00", audience="b2b_nominative", objected=True)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "GDPR_OBJECTION_ABSOLUTE" in blocks(decision)


# -- a standing verdict (a CRM tag): the hours are a condition of each call ------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-24T22:00:00+01:00",  # a Tuesday evening
        "2026-11-29T11:00:00+01:00",  # a Sunday morning
        "2026-12-25T11:00:00+01:00",  # Christmas Day, a public holiday
        "2026-11-24T13:00:00+01:00",  # the end of the morning window, excluded
    ],
)
def test_a_standing_verdict_makes_the_calling_hours_a_condition(at):
    request = phone_request(at=at, **CONSENTED)
    assert blocks(evaluate(request)) >= {"FR_PHONE_HOURS"}  # a call right now is not allowed
    standing = evaluate(replace(request, standing=True))
    assert standing.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "must_call_within_allowed_days_and_hours_consumer_tz" in standing.conditions
    assert standing.valid_until is None or standing.valid_until.date() > datetime.fromisoformat(at).date()


def test_a_standing_verdict_keeps_every_other_prohibition():
    request = phone_request(at="2026-11-24T11:00:00+01:00")  # no consent, in the opt-in era
    assert evaluate(request).verdict is Verdict.FORBIDDEN
    assert evaluate(replace(request, standing=True)).verdict is Verdict.FORBIDDEN


def test_a_standing_verdict_on_a_us_call_keeps_the_tcpa_hours_as_its_reason():
    request = request_from_fields(
        {
            "jurisdiction": "US",
            "channel": "phone_human",
            "audience": "b2c",
            "evaluated_at": "2026-11-25T03:00:00Z",
            "facts": {"national_dnc_registered": False},
        }
    )
    assert blocks(evaluate(request)) == {"US_TCPA_HOURS"}  # 22:00 in New York
    standing = evaluate(replace(request, standing=True))
    assert standing.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "US_TCPA_HOURS" in codes(standing, Effect.PERMITS)


def call_in(jurisdiction: str, *, at: str = "2026-11-23T11:00:00+01:00", audience: str = "b2c", **facts) -> Decision:
    """A human phone call in another jurisdiction than France's (or in France at 11:00 on a Monday)."""
    fields = {"jurisdiction": jurisdiction, "channel": "phone_human", "audience": audience, "evaluated_at": at}
    return evaluate(request_from_fields({**fields, "facts": facts}))


@pytest.mark.parametrize(
    ("local", "allowed"),
    [("07:59:59", False), ("08:00:00", True), ("20:59:59", True), ("21:00:00", True), ("21:00:01", False)],
)
def test_us_calling_hours_run_from_8_am_to_9_pm_both_included(local, allowed):
    """ "before 8 a.m. or after 9 p.m.": 9 p.m. itself is not after 9 p.m.; a second later is."""
    at = f"2026-11-23T{local}-05:00"
    decision = call_in("US", at=at, national_dnc_registered=False, callee_timezone="America/New_York")
    assert decision.allowed is allowed
    assert ("US_TCPA_HOURS" in blocks(decision)) is not allowed


def test_a_german_professional_reached_as_a_private_person_is_called_as_a_consumer():
    business = {"audience": "b2b_nominative", "consent_state": "none", "existing_business_relationship": True}
    private = call_in("DE", callee_is_consumer=True, **business)
    assert "DE_PHONE_B2C_CONSENT" in private.reason_codes
    assert "DE_PHONE_B2B_PRESUMED" not in private.reason_codes
    unrelated = call_in("DE", offer_related_to_profession=False, **business)  # a business call, presumed consent fails
    assert "DE_PHONE_B2B_PRESUMED" in unrelated.reason_codes
    assert not unrelated.allowed


def test_a_french_phone_consent_is_not_renewed_by_silence_after_a_reminder():
    renewed = {"consent_state": "opt_in", "consent_date": "2025-10-01", "renewed": True}
    assert call_in("FR", **renewed).allowed  # renewed by a new positive act
    silent = call_in("FR", reconfirmation_sent="2026-09-15", reconfirmation_answer=None, **renewed)
    assert "FR_PHONE_CONSENT_MAX_1Y" in blocks(silent)
    assert call_in("FR", reconfirmation_sent="2026-09-15", reconfirmation_answer="yes", **renewed).allowed


def test_an_italian_consent_given_after_the_rpo_registration_still_asks_for_the_list_to_be_checked():
    registered = {"rpo_registered": True, "rpo_registration_date": "2025-03-01"}
    decision = call_in("IT", consent_state="opt_in", consent_date="2025-03-02", **registered)
    assert decision.allowed
    assert "must_check_rpo_before_campaign" in decision.conditions


@pytest.mark.parametrize(("customer", "allowed"), [(False, False), (True, True)])
def test_a_dutch_telemarketing_consent_that_states_no_period_does_not_count(customer, allowed):
    facts = {"consent_state": "opt_in", "consent_date": "2026-06-01", "consent_period_stated": None}
    if customer:
        facts |= {"customer_relationship": True, "relationship_current": True, "similar_product": True}
    assert call_in("NL", **facts).allowed is allowed


def test_after_the_switch_an_old_refusal_and_no_consent_both_forbid_the_call():
    refused = {"consent_state": "none", "refused_during_call_date": "2026-06-01", "objected_to_all_calls": False}
    decision = call_in("FR", at="2026-08-12T11:00:00+02:00", **refused)
    assert {"FR_PHONE_B2C_OPTIN_2026", "GDPR_OBJECTION_ABSOLUTE"} <= blocks(decision)
