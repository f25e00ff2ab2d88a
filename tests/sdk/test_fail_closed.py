"""An unknown fact never clears a contact: the classes the issue found, one test each, in every jurisdiction."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from consentry.sdk.rules import evaluate
from consentry.sdk.rules._unknown import COMBINATIONS
from consentry.sdk.scenarios import request_from_fields
from consentry.sdk.vocabulary import Verdict

# A consumer call each jurisdiction's list governs, at 11:00 on a working day, and the list's remedy.
CALLS = {
    "FR": ("2026-07-06T11:00:00+02:00", "bloctel_registered", "must_have_checked_bloctel_within_last_month"),
    "IT": ("2026-11-23T11:00:00+01:00", "rpo_registered", "must_check_rpo_before_campaign"),
    "BE": ("2026-11-23T11:00:00+01:00", "dncm_registered", "must_check_dncm_list"),
    "ES": ("2026-11-23T11:00:00+01:00", "robinson_registered", "provide_missing_facts"),
    "UK": ("2026-11-23T11:00:00+00:00", "tps_registered", "rescreen_against_tps_ctps"),
    "US": ("2026-11-23T11:00:00-05:00", "national_dnc_registered", "provide_missing_facts"),
}
# Spain's list governs post to non-customers who did not consent (calls need consent there since 2023).
OTHERWISE = {"ES": {"existing_customer": False, "consent_state": "none"}}


def call(jurisdiction: str, **facts):
    at, _key, _remedy = CALLS[jurisdiction]
    return evaluate(
        request_from_fields(
            {
                "jurisdiction": jurisdiction,
                "channel": "postal" if jurisdiction == "ES" else "phone_human",
                "audience": "b2c",
                "evaluated_at": at,
                "facts": {**OTHERWISE.get(jurisdiction, {}), **facts},
            }
        )
    )


@pytest.mark.parametrize("jurisdiction", sorted(CALLS))
@pytest.mark.parametrize("spelled", ["absent", "null"])
def test_a_do_not_call_registration_not_known_is_forbidden_with_the_check_as_the_remedy(jurisdiction, spelled):
    _at, key, remedy = CALLS[jurisdiction]
    unknown = call(jurisdiction) if spelled == "absent" else call(jurisdiction, **{key: None})
    assert unknown.verdict is Verdict.FORBIDDEN
    assert remedy in unknown.conditions
    assert key in unknown.missing_facts or jurisdiction == "UK"  # the UK names its re-screening instead


@pytest.mark.parametrize("jurisdiction", sorted(set(CALLS) - {"ES", "US"}))
def test_a_number_known_not_to_be_registered_may_be_called_with_the_check_as_a_condition(jurisdiction):
    _at, key, remedy = CALLS[jurisdiction]
    known = call(jurisdiction, **{key: False})
    assert known.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert remedy in known.conditions


def test_a_phone_consent_of_unknown_date_is_not_valid_until_the_date_is_known():
    def decide(**facts):
        raw = {
            "jurisdiction": "FR",
            "channel": "phone_human",
            "audience": "b2c",
            "evaluated_at": "2026-11-23T11:00:00+01:00",
            "facts": {"consent_state": "opt_in", **facts},
        }
        return evaluate(request_from_fields(raw))

    assert decide(consent_date="2026-09-15").allowed
    unknown = decide(consent_date=None)
    assert unknown.verdict is Verdict.FORBIDDEN
    assert "consent_date" in unknown.missing_facts
    assert "FR_PHONE_CONSENT_MAX_1Y" in unknown.reason_codes


def test_too_many_unknown_facts_are_asked_for_rather_than_tried():
    facts = dict.fromkeys(["data_source", "consent_channel", "consent_collected_by", "sender_type"])
    request = request_from_fields(
        {
            "jurisdiction": "FR",
            "channel": "email",
            "audience": "b2c",
            "evaluated_at": datetime(2026, 11, 23, 11, tzinfo=ZoneInfo("Europe/Paris")).isoformat(),
            "facts": {"consent_state": "opt_in", **facts},
        }
    )
    decision = evaluate(request)
    assert decision.verdict is Verdict.FORBIDDEN
    assert set(decision.missing_facts) == set(facts)
    assert COMBINATIONS < 13 * 13 * 6 * 7  # the test's unknowns exceed the bound
