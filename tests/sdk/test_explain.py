"""`explain()`: one decision in plain words, as a data-protection officer reads it, with every reason's sources."""

from dataclasses import replace

import pytest

from consentry.sdk import Decision, Effect, Request, evaluate, explain, request_from_fields
from consentry.sdk.catalogue import condition_text
from consentry.sdk.catalogue import reason as reason_info

EMAIL = "jean.dupont@example.fr"
PHONE = "+33612345678"


def explained_request(
    *,
    at: str = "2026-09-15T11:00:00+02:00",
    channel: str = "email",
    audience: str | None = "b2c",
    action: str = "send",
    **facts,
) -> Request:
    return request_from_fields(
        {
            "jurisdiction": "FR",
            "channel": channel,
            "audience": audience,
            "action": action,
            "evaluated_at": at,
            "facts": facts,
        }
    )


def explained(request: Request) -> tuple[Decision, str]:
    decision = evaluate(request)
    return decision, explain(request, decision)


CASES = {
    "forbidden-phone": explained_request(channel="phone_human", callee_timezone="Europe/Paris", consent_state="none"),
    "allowed-phone": explained_request(
        channel="phone_human", callee_timezone="Europe/Paris", consent_state="opt_in", consent_date="2026-09-01"
    ),
    "soft-opt-in": explained_request(
        existing_customer=True,
        purchase_made=True,
        similar_product=True,
        same_legal_entity_as_seller=True,
        objection_offered_at_collection=True,
    ),
    "refusal-pause": explained_request(
        at="2026-06-15T11:00:00+02:00", channel="phone_human", refused_during_call_date="2026-04-30"
    ),
    "retain": explained_request(channel="any", action="retain_data", last_interaction="2023-09-15"),
    "missing-audience": explained_request(audience=None),
    "generic-address": explained_request(audience="b2b_generic"),
}


@pytest.fixture(params=sorted(CASES))
def case(request) -> tuple[Request, Decision, str]:
    decision, text = explained(CASES[request.param])
    return CASES[request.param], decision, text


def test_the_first_line_names_the_verdict(case):
    _request, decision, text = case
    assert text.splitlines()[0] == f"Decision: {decision.verdict.value.replace('_', ' ')}"


def test_the_question_is_restated(case):
    request, _decision, text = case
    question = text.splitlines()[1]
    assert question.startswith(f"Question: {request.action.value} by {request.channel.value}, to ")
    assert request.at.isoformat() in question


def test_every_reason_is_named_with_its_code_title_confidence_and_summary(case):
    _request, decision, text = case
    assert decision.reasons
    for reason in decision.reasons:
        assert reason.title == reason_info(reason.code).title
        assert f"[{reason.code} ({reason.title}); confidence: {reason.confidence.value}]" in text
        assert reason.summary in text
        if reason.detail:
            assert f"({reason.detail})" in text


def test_every_source_is_given_with_its_title_and_url(case):
    _request, decision, text = case
    for reason in decision.reasons:
        for source in reason.sources:
            line = f"source {source.key}: {source.title}"
            assert line in text
            if source.url:
                assert f"{line} <{source.url}>" in text


def test_every_condition_is_given_in_plain_words_with_its_code(case):
    _request, decision, text = case
    for code in decision.conditions:
        assert f"  - {condition_text(code)} [{code}]" in text


def test_conditions_are_headed_by_what_they_mean(case):
    _request, decision, text = case
    if not decision.conditions:
        assert "Conditions:" not in text
        assert "What to do:" not in text
    elif decision.allowed:
        assert "\nConditions:\n" in text
    else:
        assert "\nWhat to do:\n" in text


def test_the_effect_of_each_reason_is_spelled_out():
    decision, text = explained(CASES["refusal-pause"])
    words = {Effect.BLOCKS: "forbids", Effect.PERMITS: "allows", Effect.INFORMS: "note"}
    for reason in decision.reasons:
        assert f"  - {words[reason.effect]}: {reason.summary}" in text


def test_the_legal_basis_and_validity_of_an_allowed_call_are_stated():
    decision, text = explained(CASES["allowed-phone"])
    assert "Legal basis: consent" in text
    assert f"Holds until: {decision.valid_until.isoformat()}" in text
    assert "Holds until: 2026-09-15T13:00:00+02:00" in text


def test_a_refusal_pause_says_when_calls_may_resume():
    _decision, text = explained(CASES["refusal-pause"])
    assert "calls may resume on 2026-06-30" in text


def test_missing_facts_are_listed():
    _decision, text = explained(CASES["missing-audience"])
    assert "Missing facts: audience" in text
    assert "to unknown audience" in text
    assert "[FACTS_MISSING (A needed fact is missing); confidence: interpretation]" in text


def test_the_explanation_never_shows_the_contacts_email_or_phone_number():
    request = CASES["allowed-phone"]
    request = replace(request, contact=replace(request.contact, email=EMAIL, phone=PHONE, contact_id="c-42"))
    text = explain(request, evaluate(request))
    assert EMAIL not in text
    assert PHONE not in text
    assert "@" not in text
