"""French data lifecycle and consent rules (RULES.md §2, §5, §6), and the engine's default deny.

Retention anniversaries follow the scenarios' convention: the day before the third anniversary the data is used as
usual; on the anniversary only a re-permission message may go out; the day after, the data must go.
"""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from consentry.sdk import (
    Audience,
    Channel,
    Confidence,
    Decision,
    Effect,
    LegalBasis,
    Request,
    Verdict,
    evaluate,
    load_scenarios,
    request_from_fields,
)
from consentry.sdk.rules import JURISDICTIONS

DATA = Path(__file__).parents[1] / "data"
ENGINE_CODES = {"NO_RULE", "FACTS_MISSING"}  # the engine's own refusals, with no legal source behind them


def lifecycle_request(
    *,
    at: str,
    channel: str | None = "email",
    audience: str | None = "b2c",
    jurisdiction: str | None = "FR",
    action: str = "send",
    **facts,
) -> Request:
    return request_from_fields(
        {
            "jurisdiction": jurisdiction,
            "channel": channel,
            "audience": audience,
            "action": action,
            "evaluated_at": at,
            "facts": facts,
        }
    )


def decide(**options) -> Decision:
    return evaluate(lifecycle_request(**options))


def codes(decision: Decision, effect: Effect) -> set[str]:
    return {reason.code for reason in decision.reasons if reason.effect is effect}


def blocks(decision: Decision) -> set[str]:
    return codes(decision, Effect.BLOCKS)


def noon(day: str) -> str:
    return f"{day}T12:00:00+02:00"


# A customer who meets every condition of the soft opt-in (L34-5 al. 4; RULES.md §2.1).
SOFT_OPT_IN = {
    "existing_customer": True,
    "purchase_made": True,
    "similar_product": True,
    "same_legal_entity_as_seller": True,
    "objection_offered_at_collection": True,
    "data_source": "collected_directly",
}


# -- retention ------------------------------------------------------------------------------------------------------

ANNIVERSARY = [
    ("2026-09-14", Verdict.ALLOWED_WITH_CONDITIONS, False),
    ("2026-09-15", Verdict.ALLOWED_WITH_CONDITIONS, True),
    ("2026-09-16", Verdict.FORBIDDEN, False),
]


@pytest.mark.parametrize(("day", "verdict", "reconfirm_only"), ANNIVERSARY)
@pytest.mark.parametrize(
    "started",
    [
        {"consent_state": "opt_in", "consent_date": "2023-09-15"},  # collected then
        {"consent_state": "opt_in", "consent_date": "2021-01-04", "last_interaction": "2023-09-15"},  # last click
    ],
    ids=["from-collection", "from-last-contact"],
)
def test_prospect_data_lasts_three_years_from_collection_or_last_contact(started, day, verdict, reconfirm_only):
    decision = decide(at=noon(day), **started)
    assert decision.verdict is verdict
    assert "FR_RETENTION_PROSPECT_3Y" in decision.reason_codes
    assert ("only_reconfirmation_request" in decision.conditions) is reconfirm_only
    assert ("FR_RETENTION_RECONFIRM" in decision.reason_codes) is reconfirm_only
    if verdict is Verdict.FORBIDDEN:
        assert "FR_RETENTION_PROSPECT_3Y" in blocks(decision)
        assert "must_delete_or_archive" in decision.conditions


@pytest.mark.parametrize(("day", "verdict", "reconfirm_only"), ANNIVERSARY)
def test_customer_data_lasts_three_years_from_the_end_of_the_relationship(day, verdict, reconfirm_only):
    decision = decide(at=noon(day), relationship_end_date="2023-09-15", **SOFT_OPT_IN)
    assert decision.verdict is verdict
    assert "FR_RETENTION_CUSTOMER_3Y" in decision.reason_codes
    assert "FR_RETENTION_PROSPECT_3Y" not in decision.reason_codes
    assert ("only_reconfirmation_request" in decision.conditions) is reconfirm_only
    if verdict is Verdict.FORBIDDEN:
        assert "FR_RETENTION_CUSTOMER_3Y" in blocks(decision)


def test_before_the_anniversary_the_decision_holds_until_the_anniversary():
    decision = decide(at=noon("2026-09-14"), consent_state="opt_in", consent_date="2023-09-15")
    assert decision.valid_until is not None
    assert decision.valid_until.date().isoformat() == "2026-09-15"


def test_a_current_customer_relationship_does_not_expire():
    decision = decide(at=noon("2026-09-16"), relationship_current=True, last_purchase="2019-01-10", **SOFT_OPT_IN)
    assert decision.allowed
    assert "FR_RETENTION_CUSTOMER_3Y" not in decision.reason_codes


@pytest.mark.parametrize(
    ("day", "verdict"),
    [
        ("2027-02-27", Verdict.ALLOWED_WITH_CONDITIONS),
        ("2027-02-28", Verdict.ALLOWED_WITH_CONDITIONS),  # the anniversary of 29 February, the earlier (safer) day
        ("2027-03-01", Verdict.FORBIDDEN),
    ],
)
def test_a_consent_given_on_29_february_reaches_its_anniversary_on_28_february(day, verdict):
    decision = decide(at=f"{day}T12:00:00+01:00", consent_state="opt_in", consent_date="2024-02-29")
    assert decision.verdict is verdict
    assert ("FR_RETENTION_RECONFIRM" in decision.reason_codes) is (day == "2027-02-28")


@pytest.mark.parametrize(
    ("day", "verdict"),
    [
        ("2026-09-14", Verdict.ALLOWED),
        ("2026-09-15", Verdict.ALLOWED_WITH_CONDITIONS),  # keep only to ask once
        ("2026-09-16", Verdict.FORBIDDEN),
    ],
)
def test_keeping_prospect_data_follows_the_same_anniversary(day, verdict):
    decision = decide(at=noon(day), channel="any", action="retain_data", last_interaction="2023-09-15")
    assert decision.verdict is verdict
    assert "FR_RETENTION_PROSPECT_3Y" in decision.reason_codes


def test_an_email_open_does_not_restart_the_clock():
    decision = decide(
        at=noon("2026-09-16"),
        consent_state="opt_in",
        last_interaction="2023-09-15",
        last_interaction_type="order",
        last_open="2026-06-01",
    )
    assert {"FR_RETENTION_PROSPECT_3Y", "FR_OPEN_NOT_CONTACT"} <= blocks(decision)


@pytest.mark.parametrize(("kind", "kept"), [("email_open", False), ("open", False), ("link_click", True)])
def test_only_a_contact_from_the_prospect_restarts_the_clock(kind, kept):
    decision = decide(
        at=noon("2026-09-16"),
        consent_state="opt_in",
        consent_date="2023-09-15",
        last_interaction="2026-01-10",
        last_interaction_type=kind,
    )
    assert decision.allowed is kept


def test_without_an_answer_to_the_re_permission_message_the_data_must_go():
    decision = decide(
        at=noon("2026-10-01"), consent_state="opt_in", consent_date="2023-09-15", reconfirmation_sent="2026-09-15"
    )
    assert decision.verdict is Verdict.FORBIDDEN
    assert {"FR_RETENTION_PROSPECT_3Y", "FR_RETENTION_RECONFIRM"} <= blocks(decision)
    assert decision.conditions == ("must_delete_or_archive",)


def test_a_positive_answer_to_the_re_permission_message_keeps_the_data():
    decision = decide(
        at=noon("2026-10-01"),
        consent_state="opt_in",
        consent_date="2023-09-15",
        reconfirmation_sent="2026-09-15",
        reconfirmation_answer="yes",
    )
    assert decision.allowed
    assert "must_delete_or_archive" not in decision.conditions


# -- consent withdrawn ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["email", "postal", "automated_call"])
def test_a_withdrawn_consent_stops_prospecting(channel):
    decision = decide(at=noon("2026-09-16"), channel=channel, consent_state="withdrawn", withdrawal_date="2026-05-01")
    assert decision.verdict is Verdict.FORBIDDEN
    assert {"FR_CONSENT_WITHDRAWN", "GDPR_OBJECTION_ABSOLUTE"} <= blocks(decision)
    assert "must_add_to_suppression_list" in decision.conditions


def test_an_undated_withdrawal_counts_at_once():
    decision = decide(at=noon("2026-09-16"), consent_state="withdrawn")
    assert "FR_CONSENT_WITHDRAWN" in blocks(decision)


def test_a_withdrawal_dated_after_the_decision_does_not_count_yet():
    decision = decide(
        at=noon("2026-09-16"), consent_state="opt_in", consent_date="2026-01-05", withdrawal_date="2026-10-01"
    )
    assert decision.allowed


def test_a_withdrawal_for_one_channel_leaves_the_others_alone():
    withdrawn = {"consent_state": "withdrawn", "consent_channel": "email", "withdrawal_date": "2026-05-01"}
    assert "FR_CONSENT_WITHDRAWN" in blocks(decide(at=noon("2026-09-16"), channel="email", **withdrawn))
    assert decide(at=noon("2026-09-16"), channel="postal", **withdrawn).allowed


@pytest.mark.parametrize(("reoptin", "allowed"), [("2026-06-01", True), ("2026-04-01", False)])
def test_only_a_re_opt_in_after_the_withdrawal_lifts_it(reoptin, allowed):
    decision = decide(
        at=noon("2026-09-16"), consent_state="withdrawn", withdrawal_date="2026-05-01", reoptin_date=reoptin
    )
    assert decision.allowed is allowed
    assert ("FR_RECONSENT_POSITIVE_ACT" in codes(decision, Effect.PERMITS)) is allowed


# -- soft opt-in ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "stop"),
    [("email", "must_include_free_unsubscribe"), ("automated_call", "must_give_valid_contact_to_stop_free")],
)
def test_a_customer_may_be_sent_offers_for_similar_products_on_the_soft_opt_in(channel, stop):
    decision = decide(at=noon("2026-09-15"), channel=channel, **SOFT_OPT_IN)
    assert decision.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "FR_SOFT_OPTIN" in codes(decision, Effect.PERMITS)
    assert decision.legal_basis is LegalBasis.SOFT_OPT_IN
    assert {"must_offer_objection_in_each_message", "must_identify_advertiser", stop} <= set(decision.conditions)


def test_the_soft_opt_in_does_not_cover_human_calls_after_11_august_2026():
    decision = decide(at=noon("2026-09-15"), channel="phone_human", callee_timezone="Europe/Paris", **SOFT_OPT_IN)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "FR_PHONE_B2C_OPTIN_2026" in blocks(decision)
    assert "FR_SOFT_OPTIN" not in decision.reason_codes


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"purchase_made": False}, "FR_SOFT_OPTIN_NO_PURCHASE"),
        ({"existing_customer": None, "purchase_made": None, "account_created": True}, "FR_SOFT_OPTIN_NO_PURCHASE"),
        ({"similar_product": False}, "FR_SOFT_OPTIN_NOT_SIMILAR"),
        ({"similar_product": None}, "FR_SOFT_OPTIN_NOT_SIMILAR"),  # not known to be similar: not assumed
        ({"same_legal_entity_as_seller": False}, "FR_SOFT_OPTIN_OTHER_ENTITY"),
        ({"objection_offered_at_collection": False}, "FR_SOFT_OPTIN_NO_OBJECTION_AT_COLLECTION"),
        ({"data_source": "purchased_list"}, "FR_EMAIL_B2C_CONSENT_REQUIRED"),  # not collected from the person
    ],
)
def test_the_soft_opt_in_fails_when_any_condition_fails(change, failure):
    decision = decide(at=noon("2026-09-15"), **{**SOFT_OPT_IN, **change})
    assert decision.verdict is Verdict.FORBIDDEN
    assert {failure, "FR_EMAIL_B2C_CONSENT_REQUIRED"} <= blocks(decision)
    assert "FR_SOFT_OPTIN" not in decision.reason_codes


def test_a_prospect_without_consent_or_purchase_gets_no_email():
    decision = decide(at=noon("2026-09-15"), consent_state="none")
    assert blocks(decision) == {"FR_EMAIL_B2C_CONSENT_REQUIRED"}


# -- business addresses ---------------------------------------------------------------------------------------------


def test_a_generic_company_address_is_outside_consent_but_needs_identity_and_a_stop_address():
    decision = decide(
        at=noon("2026-09-15"), audience="b2b_generic", address="contact@company.fr", address_type="generic_role_address"
    )
    assert decision.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "FR_B2B_GENERIC_ADDRESS" in codes(decision, Effect.PERMITS)
    assert decision.legal_basis is LegalBasis.NOT_PERSONAL_DATA
    assert {"must_identify_advertiser", "must_include_free_unsubscribe"} <= set(decision.conditions)


def test_a_generic_address_that_identifies_a_person_is_treated_as_nominative():
    decision = decide(
        at=noon("2026-09-15"), audience="b2b_generic", address_type="generic_but_identifies_natural_person"
    )
    assert "FR_B2B_GENERIC_ADDRESS" not in decision.reason_codes
    assert "FR_B2B_NOMINATIVE_OPTOUT" in codes(decision, Effect.PERMITS)
    assert "must_relate_to_recipient_profession" in decision.conditions


def test_a_named_professional_offered_something_unrelated_to_their_job_needs_consent():
    decision = decide(at=noon("2026-09-15"), audience="b2b_nominative", offer_related_to_profession=False)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "FR_B2B_UNRELATED_OFFER" in blocks(decision)


# -- never "allowed" without rules and facts ------------------------------------------------------------------------


@pytest.mark.parametrize("jurisdiction", ["JP", "XX", "LU"])
def test_an_unknown_jurisdiction_is_never_allowed(jurisdiction):
    decision = decide(at=noon("2026-09-15"), jurisdiction=jurisdiction, consent_state="opt_in")
    assert decision.verdict is Verdict.FORBIDDEN
    assert decision.reason_codes == ("NO_RULE",)
    assert jurisdiction in decision.reasons[0].detail


@pytest.mark.parametrize(
    ("missing", "options"),
    [
        ("jurisdiction", {"jurisdiction": None}),
        ("audience", {"audience": None}),
        ("channel", {"channel": None}),
    ],
)
def test_a_missing_fact_is_never_allowed_and_is_named(missing, options):
    decision = decide(at=noon("2026-09-15"), consent_state="opt_in", **options)
    assert decision.verdict is Verdict.FORBIDDEN
    assert "FACTS_MISSING" in blocks(decision)
    assert missing in decision.missing_facts
    assert "provide_missing_facts" in decision.conditions
    facts_missing = next(r for r in decision.reasons if r.code == "FACTS_MISSING")
    assert missing in facts_missing.detail


@pytest.mark.parametrize("jurisdiction", sorted(JURISDICTIONS))
@pytest.mark.parametrize("channel", [c.value for c in Channel if c is not Channel.ANY])
def test_no_jurisdiction_allows_a_send_to_an_unknown_audience(jurisdiction, channel):
    decision = decide(at=noon("2026-09-15"), jurisdiction=jurisdiction, channel=channel, audience=None)
    assert decision.verdict is Verdict.FORBIDDEN
    assert decision.missing_facts == ("audience",)


# -- every reason is sourced ----------------------------------------------------------------------------------------


def grid() -> list[Request]:
    """Every jurisdiction, channel and audience, for a stranger, a consenting prospect and a customer."""
    fact_sets = [{}, {"consent_state": "opt_in", "consent_date": "2026-03-02"}, SOFT_OPT_IN]
    return [
        lifecycle_request(
            at="2026-09-15T11:00:00+02:00",
            jurisdiction=jurisdiction,
            channel=channel.value,
            audience=audience.value,
            **facts,
        )
        for jurisdiction in sorted(JURISDICTIONS)
        for channel in Channel
        if channel is not Channel.ANY
        for audience in Audience
        for facts in fact_sets
    ]


def shared_scenario_requests() -> list[Request]:
    scenarios = load_scenarios(DATA / "scenarios.yaml") + load_scenarios(DATA / "unseen_scenarios.yaml")
    return [scenario.request for scenario in scenarios if scenario.request is not None]


@pytest.fixture(scope="module")
def decisions() -> list[Decision]:
    requests = grid() + shared_scenario_requests()
    requests += [lifecycle_request(at=noon("2026-09-15"), jurisdiction="JP")]
    requests += [lifecycle_request(at=noon("2026-09-15"), audience=None)]
    requests += [
        lifecycle_request(at=noon("2026-09-14"), channel="any", action="retain_data", consent_date="2024-01-02")
    ]
    return [evaluate(request) for request in requests]


def test_the_sourcing_check_covers_every_verdict_and_both_engine_refusals(decisions):
    assert {decision.verdict for decision in decisions} == set(Verdict)
    assert {code for decision in decisions for code in decision.reason_codes} >= ENGINE_CODES


def test_every_reason_carries_a_known_confidence(decisions):
    for decision in decisions:
        for reason in decision.reasons:
            assert reason.confidence in set(Confidence), reason.code
            assert Confidence(reason.confidence.value) is reason.confidence


def test_every_legal_reason_carries_its_sources(decisions):
    for decision in decisions:
        for reason in decision.reasons:
            if reason.code in ENGINE_CODES:
                # The engine's own refusals are an interpretation: no text says "not allowed because unknown".
                assert reason.confidence is Confidence.INTERPRETATION
                continue
            assert reason.sources, reason.code
            for source in reason.sources:
                assert source.key, reason.code
                assert source.title, source.key
                assert source.url is None or source.url.startswith(("http://", "https://")), source.key


def test_a_decision_is_forbidden_exactly_when_a_reason_blocks_and_allowed_only_when_one_permits(decisions):
    for decision in decisions:
        effects = {reason.effect for reason in decision.reasons}
        assert (decision.verdict is Verdict.FORBIDDEN) is (Effect.BLOCKS in effects)
        if decision.allowed:
            assert Effect.PERMITS in effects
            assert (decision.verdict is Verdict.ALLOWED_WITH_CONDITIONS) is bool(decision.conditions)


def test_decisions_serialise_with_their_reasons_sources_and_confidence():
    decision = decide(at=noon("2026-09-15"), **SOFT_OPT_IN)
    record = decision.to_dict()
    assert record["decision"] == "allowed_with_conditions"
    assert record["legal_basis"] == "soft_opt_in"
    soft = next(r for r in record["reasons"] if r["code"] == "FR_SOFT_OPTIN")
    assert soft["effect"] == "permits"
    assert soft["confidence"] in {c.value for c in Confidence}
    assert soft["sources"]
    assert all(isinstance(key, str) for key in soft["sources"])


NOW = "2026-11-23T10:00:00+01:00"
BEFORE_THE_SWITCH = "2026-07-06T10:00:00+02:00"
GDPR_COUNTRIES = ["DE", "IT", "ES", "BE", "NL", "UK"]
CUSTOMER_SOFT_OPT_IN = {
    "existing_customer": True,
    "email_obtained_in_sale": True,
    "last_purchase": "2026-09-01",
    "similar_product": True,
    "same_legal_entity_as_seller": True,
    "informed_at_collection": True,
    "objection_offered_at_collection": True,
    "objection_notice_each_message": True,
}
BROKER_CONSENT = {"data_source": "purchased_list", "consent_state": "opt_in", "consent_collected_by": "data_broker"}
ASKED_ANEW = {"consent_collected_by": "advertiser", "consent_mechanism": "unticked_checkbox_specific_to_prospecting"}
FOUND_ONLINE = {"data_source": "public_web", "collection_method": "web_scraping_classified_ads"}


def act(action: str, *, at: str = NOW, **options) -> Decision:
    """`action` (email to a French consumer unless told otherwise) at `at`."""
    return decide(at=at, action=action, **options)


def test_reusing_data_on_a_channel_is_judged_by_that_channel_s_rules_for_sending():
    lawful = act("reuse_data", **CUSTOMER_SOFT_OPT_IN)
    assert lawful.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "FR_SOFT_OPTIN" in codes(lawful, Effect.PERMITS)
    objected = act("reuse_data", objected=True, objection_date="2026-10-01", **CUSTOMER_SOFT_OPT_IN)
    assert "GDPR_OBJECTION_ABSOLUTE" in blocks(objected)
    assert "FR_EMAIL_B2C_CONSENT_REQUIRED" in blocks(act("reuse_data", consent_state="none"))
    assert blocks(act("reuse_data", channel="any")) == {"NO_RULE"}


def test_a_reuse_is_not_a_call_so_the_calling_hours_do_not_refuse_it_at_night():
    consented = {"consent_state": "opt_in", "consent_date": "2026-09-01", "callee_timezone": "Europe/Paris"}
    night = "2026-11-23T23:30:00+01:00"
    assert not act("send", at=night, channel="phone_human", **consented).allowed  # a call now would be out of hours
    reuse = act("reuse_data", at=night, channel="phone_human", **consented)
    assert reuse.allowed
    assert "must_call_within_allowed_days_and_hours_consumer_tz" in reuse.conditions


def test_a_suppressed_person_reused_without_a_purpose_stays_blocked_unless_a_newer_consent_lifts_it():
    suppressed = {"on_suppression_list": True, "suppression_date": "2026-03-01", "consent_state": "opt_in"}
    assert "FR_SUPPRESSION_LIST_HIT" in blocks(act("reuse_data", **suppressed))
    reoptin = {"reoptin_date": "2026-10-01", "reoptin_mechanism": "unticked_checkbox_plus_confirmation_email"}
    lifted = act("reuse_data", consent_collected_by="advertiser", consent_proof_stored=True, **reoptin, **suppressed)
    assert lifted.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "must_lift_suppression_only_for_this_channel_and_advertiser" in lifted.conditions
    assert "FR_SUPPRESSION_PURPOSE" in blocks(act("reuse_data", purpose="winback_campaign", **suppressed))


@pytest.mark.parametrize(
    ("channel", "at", "allowed"),
    [
        ("postal", NOW, True),
        ("phone_human", BEFORE_THE_SWITCH, True),  # before the opt-in switch: notice and objection
        ("phone_human", NOW, False),  # after it: consent first
        ("sms", NOW, False),
    ],
)
def test_details_found_online_may_be_collected_for_post_and_pre_switch_calls_with_a_notice_only(channel, at, allowed):
    decision = act("collect_data", at=at, channel=channel, **FOUND_ONLINE)
    assert decision.allowed is allowed
    if allowed:
        assert "must_send_art14_information_at_first_contact" in decision.conditions
    else:
        assert "FR_PUBLIC_WEB_DATA" in blocks(decision)


@pytest.mark.parametrize(("planned", "allowed"), [(["postal"], True), (["postal", "email"], False), (None, False)])
def test_details_found_online_for_no_given_channel_are_judged_by_the_campaign_s_channels(planned, allowed):
    decision = act("collect_data", channel="any", campaign_channels=planned, **FOUND_ONLINE)
    assert ("FR_PUBLIC_WEB_DATA" in blocks(decision)) is not allowed


def test_a_collection_never_reimports_an_objector_but_may_ask_for_a_new_consent():
    suppressed = {"on_suppression_list": True, "suppression_date": "2025-01-15"}
    reimport = act("collect_data", individual_consent_proof=True, **BROKER_CONSENT, **suppressed)
    assert "FR_SUPPRESSION_LIST_HIT" in blocks(reimport)
    assert act("collect_data", **ASKED_ANEW, **suppressed).allowed
    assert not act("collect_data", channel="postal", data_source="public_web", ad_says_no_canvassing=True).allowed


def test_a_bought_consent_must_be_proved_at_collection_and_a_phone_collection_must_say_calls_need_consent():
    bought = act("collect_data", advertiser_named_at_collection=True, individual_consent_proof=False, **BROKER_CONSENT)
    assert "FR_PURCHASED_LIST_NO_PROOF" in blocks(bought)
    untold = {"channel": "phone_human", "informed_at_collection": False}
    assert "FR_PHONE_B2C_OPTIN_2026" in blocks(act("collect_data", **untold))
    assert "FR_PHONE_B2C_OPTIN_2026" not in blocks(act("collect_data", at=BEFORE_THE_SWITCH, **untold))  # no duty yet


def test_a_valid_consent_a_partner_collected_names_the_advertiser_among_the_partners():
    partner = {"consent_collected_by": "partner", "data_source": "partner_transfer", "transfer_consent": True}
    named = act(
        "send", consent_state="opt_in", advertiser_named_at_collection=True, individual_consent_proof=True, **partner
    )
    assert "FR_PARTNER_CONSENT_NAMED" in codes(named, Effect.PERMITS)
    assert "must_not_retransfer_without_new_consent" in named.conditions  # a partner cannot pass the consent on
    first_party = act("send", consent_state="opt_in", consent_collected_by="advertiser")
    assert "FR_PARTNER_CONSENT_NAMED" not in first_party.reason_codes


@pytest.mark.parametrize("mechanism", ["contest_form_asymmetric_buttons", "pre_ticked_checkbox", "bundled_with_terms"])
def test_a_consent_to_a_transfer_given_through_an_invalid_form_is_none(mechanism):
    transfer = {"transfer_consent": True, "partners_named_at_collection": True, "partner_list_link_in_form": True}
    assert act("transfer_data", **transfer).allowed
    invalid = act("transfer_data", consent_mechanism=mechanism, **transfer)
    assert not invalid.allowed
    assert "FR_PARTNER_TRANSFER_CONSENT" in blocks(invalid)
    assert "rebuild_or_recollect_consent" in invalid.conditions


@pytest.mark.parametrize("jurisdiction", GDPR_COUNTRIES)
def test_outside_france_the_gdpr_duties_to_collect_little_and_give_the_source_block_but_clear_nothing(jurisdiction):
    extra = act(
        "collect_data", jurisdiction=jurisdiction, campaign_channels=["email"], fields_collected=["email", "phone"]
    )
    assert "GDPR_MINIMISATION" in blocks(extra)
    assert "collect_only_fields_needed_for_the_channel" in extra.conditions
    minimal = act("collect_data", jurisdiction=jurisdiction, campaign_channels=["email"], fields_collected=["email"])
    assert blocks(minimal) == {"NO_RULE"}  # nothing wrong found, and nothing that clears the collection either
    bought = {"data_source": "purchased_list", "acquired_on": "2026-09-01", "art14_notice_sent": False}
    late = act("retain_data", jurisdiction=jurisdiction, channel="any", **bought)
    assert "GDPR_ART14_NOTICE" in blocks(late)
    assert "send_art14_notice_now" in late.conditions


@pytest.mark.parametrize("jurisdiction", GDPR_COUNTRIES)
def test_a_consent_is_collected_alike_in_every_gdpr_country(jurisdiction):
    def collect(**facts) -> Decision:
        return act("collect_data", jurisdiction=jurisdiction, **facts)

    valid = collect(consent_mechanism="unticked_checkbox_specific_to_prospecting", fields_collected=["email"])
    assert valid.verdict is Verdict.ALLOWED_WITH_CONDITIONS
    assert "must_keep_consent_proof" in valid.conditions
    assert "GDPR_CONSENT_INVALID" in blocks(collect(consent_mechanism="pre_ticked_checkbox"))
    reimport = collect(data_source="purchased_list", on_suppression_list=True, suppression_date="2025-01-15")
    assert "GDPR_OBJECTION_ABSOLUTE" in blocks(reimport)
    assert "GDPR_CONSENT_PROOF" in blocks(collect(individual_consent_proof=False, **BROKER_CONSENT))


def test_a_consent_stands_from_its_date_until_its_withdrawal_on_the_day_decided():
    withdrawn = {"consent_state": "withdrawn", "consent_date": "2025-05-01", "withdrawal_date": "2026-10-01"}
    assert act("send", at="2026-09-30T10:00:00+02:00", **withdrawn).allowed  # not yet withdrawn that day
    assert "FR_CONSENT_WITHDRAWN" in blocks(act("send", at="2026-10-15T10:00:00+02:00", **withdrawn))
    future = act("send", at="2026-01-05T10:00:00+01:00", consent_state="opt_in", consent_date="2026-06-01")
    assert "FR_EMAIL_B2C_CONSENT_REQUIRED" in blocks(future)  # a consent given later justifies nothing before


@pytest.mark.parametrize(
    ("naming", "named"),
    [
        ({"advertiser_named_at_collection": True, "partner_list_available": False}, True),
        ({"advertiser_named_at_collection": False, "partner_list_available": True}, False),
        ({"partners_named_at_collection": True}, True),
        ({"partner_list_available": False}, False),
        ({"privacy_policy_mentions_partners": True}, False),
    ],
)
def test_a_consent_another_collected_counts_when_the_advertiser_was_named_itself_or_in_a_list(naming, named):
    decision = act("send", consent_state="opt_in", data_source="partner_transfer", **naming)
    assert ("FR_PARTNER_NOT_NAMED" not in blocks(decision)) is named


def test_a_us_opt_out_list_serves_compliance_only():
    us = {"jurisdiction": "US", "on_suppression_list": True}
    misused = act("reuse_data", purpose="winback_campaign", **us)
    assert "US_CANSPAM_OPTOUT" in blocks(misused)
    assert "suppression_list_no_other_purpose" in misused.conditions
    checked = act("reuse_data", channel="any", purpose="compliance", **us)
    assert checked.allowed


def test_a_bought_file_is_kept_three_years_from_the_day_it_came_once_its_notice_went():
    bought = {"data_source": "purchased_list", "art14_notice_sent": True}
    kept = act("retain_data", channel="any", acquired_on="2026-10-15", **bought)
    assert kept.allowed
    assert "FR_RETENTION_PROSPECT_3Y" in codes(kept, Effect.PERMITS)
    assert not act("retain_data", channel="any", acquired_on="2023-10-15", **bought).allowed


def test_a_commercial_consent_does_not_cover_political_messages_unless_that_use_was_announced():
    opted_in = {"is_political": True, "consent_state": "opt_in", "consent_date": "2026-01-10"}
    assert "FR_POLITICAL_CONSENT" in blocks(act("send", political_use_announced_at_collection=False, **opted_in))
    assert act("send", political_use_announced_at_collection=True, **opted_in).allowed


def test_the_art14_notice_is_due_at_the_first_contact_when_that_comes_before_the_month_is_out():
    bought = {"data_source": "purchased_list", "acquired_on": "2026-10-15", "art14_notice_sent": False}
    late = act("retain_data", at="2026-11-10T10:00:00+01:00", channel="any", first_contact_date="2026-11-05", **bought)
    assert "FR_DATA_SOURCE_ART14" in blocks(late)
    on_the_day = act("send", at="2026-11-05T10:00:00+01:00", first_contact_date="2026-11-05", **bought)
    assert "FR_DATA_SOURCE_ART14" not in blocks(on_the_day)  # the first message carries the notice


def test_an_objection_request_binds_at_once_whatever_the_answer_s_date():
    objection = {"request": ["objection"], "request_date": "2026-11-10"}
    in_time = act("respond_dsar", channel="any", **objection)
    assert "GDPR_OBJECTION_ABSOLUTE" in in_time.reason_codes
    assert "must_add_to_suppression_list" in in_time.conditions
    ignored = act("respond_dsar", channel="any", answered_on="2026-11-14", prospecting_continued=True, **objection)
    assert "GDPR_OBJECTION_ABSOLUTE" in blocks(ignored)
    undated = act("respond_dsar", channel="any", request=["access"], request_date=None)
    assert "GDPR_RIGHTS_1_MONTH" in blocks(undated)


def test_a_charity_without_the_free_objection_at_collection_falls_back_on_the_channel_s_consent():
    charity = {"sender_type": "charity", "informed_at_collection": True, "objection_offered_at_collection": False}
    refused = act("send", channel="sms", **charity)
    assert {"FR_NONCOMMERCIAL_CHARITY", "FR_SMS_B2C_CONSENT_REQUIRED"} <= blocks(refused)
    assert act("send", channel="sms", consent_state="opt_in", consent_date="2026-03-01", **charity).allowed


def test_a_marketing_email_known_to_lack_what_it_must_carry_is_refused():
    company = {"jurisdiction": "UK", "audience": "b2b_nominative", "recipient_legal_form": "limited_company"}
    assert act("send", **company).allowed
    no_address = act("send", opt_out_mechanism=False, **company)
    assert "UK_CORPORATE_SUBSCRIBER" in blocks(no_address)
    assert "must_give_valid_address_to_opt_out" in no_address.conditions
    consented = {"consent_state": "opt_in", "consent_date": "2026-03-01"}
    assert act("send", **consented).allowed
    assert "FR_MSG_CONTENT" in blocks(act("send", identified_as_ad=False, **consented))


def test_a_political_sender_selling_something_is_prospecting_like_anyone():
    selling = {"sender_type": "political", "message_commercial": True, "consent_state": "none"}
    assert "FR_EMAIL_B2C_CONSENT_REQUIRED" in blocks(act("send", **selling))


@pytest.mark.parametrize(
    ("options", "paris"),
    [
        ({"action": "retain_data", "channel": "any", "last_interaction": "2023-11-22"}, "2026-11-23T00:30:00+01:00"),
        (
            {"action": "respond_dsar", "channel": "any", "request": ["access"], "request_date": "2026-10-20"},
            "2026-11-21T01:30:00+01:00",
        ),
        (
            {
                "action": "retain_data",
                "channel": "any",
                "data_source": "purchased_list",
                "acquired_on": "2026-10-15",
                "art14_notice_sent": False,
            },
            "2026-11-16T00:30:00+01:00",
        ),
    ],
)
def test_one_moment_gets_one_answer_whatever_offset_it_is_written_with(options, paris):
    """Durations are counted to the jurisdiction's own day: 00:30 in Paris is still the day before in UTC."""
    moment = datetime.fromisoformat(paris)
    answers = {
        decide(at=moment.astimezone(ZoneInfo(zone)).isoformat(), **options).verdict
        for zone in ("Europe/Paris", "UTC", "America/New_York", "Pacific/Kiritimati")
    }
    assert answers == {Verdict.FORBIDDEN}


def test_the_sixty_day_pause_after_a_refusal_runs_on_the_consumer_s_calendar():
    refused = {"refused_during_call_date": "2026-06-04", "bloctel_registered": False, "consent_state": "none"}
    moment = "2026-08-04T01:30:00+02:00"  # 3 August, 19:30 in Martinique: day 60
    martinique = decide(at=moment, channel="phone_human", callee_timezone="America/Martinique", **refused)
    assert "FR_PHONE_REFUSAL_60D" in blocks(martinique)
    paris = decide(at="2026-08-04T10:30:00+02:00", channel="phone_human", callee_timezone="Europe/Paris", **refused)
    assert "FR_PHONE_REFUSAL_60D" not in blocks(paris)


def test_keeping_data_whose_only_dated_contact_is_an_email_open_is_not_cleared():
    contact = {"channel": "any", "last_interaction": "2026-01-01"}
    assert act("retain_data", last_interaction_type="click", **contact).allowed
    opened = act("retain_data", last_interaction_type="open", **contact)  # an open dates nothing (CNIL)
    assert not opened.allowed
    assert act("retain_data", channel="any", existing_customer=True, relationship_current=True).allowed
