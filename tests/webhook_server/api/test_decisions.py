"""POST /v1/decisions and its batch: the engine's answer, with what Consentry knows laid over the request."""

from datetime import date

import pytest

from consentry.sdk.identity import IdentifierKind

EMAIL = "claire.martin@example.fr"
OPTED_IN = {"consent_state": "opt_in", "consent_date": "2026-01-10", "data_source": "form"}


def decide(api, **body):
    response = api.client.post("/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_decision_carries_its_reasons_conditions_and_basis(api):
    answer = decide(api, email=EMAIL, channel="email", audience="b2c", jurisdiction="FR", facts=OPTED_IN)
    assert answer["decision"] in ("allowed", "allowed_with_conditions")
    assert answer["legal_basis"] == "consent"
    assert answer["jurisdiction"] == "FR"
    reason = answer["reasons"][0]
    assert {"code", "title", "summary", "confidence", "sources"} <= set(reason)
    assert reason["sources"]
    assert {"key", "title", "url"} <= set(reason["sources"][0])
    assert "next_lawful_call" not in answer  # phone calls only


def test_what_is_missing_is_named(api):
    answer = decide(api, email=EMAIL, channel="email")
    assert answer["decision"] == "forbidden"
    assert "jurisdiction" in answer["missing_facts"]


def test_the_jurisdiction_comes_from_the_number_when_not_given(api):
    answer = decide(api, phone="+4930123456", channel="sms", audience="b2c")
    assert answer["jurisdiction"] == "DE"


def test_a_recorded_objection_overrides_a_request_saying_opt_in(api):
    before = decide(api, email=EMAIL, channel="email", audience="b2c", jurisdiction="FR", facts=OPTED_IN)
    assert before["decision"] != "forbidden"
    recorded = api.client.post(
        "/v1/consents",
        json={"email": EMAIL, "channel": "email", "kind": "objected", "occurred_at": "2026-11-02T09:00:00+01:00"},
        headers={"Idempotency-Key": "objection-1"},
    )
    assert recorded.status_code == 201, recorded.text
    after = decide(
        api,
        email=EMAIL,
        channel="email",
        audience="b2c",
        jurisdiction="FR",
        at="2026-12-03T10:00:00+01:00",
        facts=OPTED_IN,
    )
    assert after["decision"] == "forbidden"


def test_a_suppression_entry_overrides_a_request_saying_opt_in(api):
    api.runtime.services.suppression.add(IdentifierKind.EMAIL, EMAIL, channels=["email"], reason_code="MANUAL")
    answer = decide(api, email=EMAIL, channel="email", audience="b2c", jurisdiction="FR", facts=OPTED_IN)
    assert answer["decision"] == "forbidden"


def test_a_ledger_grant_answers_when_the_request_says_nothing_of_consent(api):
    api.client.post(
        "/v1/consents",
        json={
            "email": EMAIL,
            "channel": "email",
            "kind": "granted",
            "occurred_at": "2026-10-01T09:00:00+02:00",
            "proof": {"collection_point": "signup form", "wording": "Yes, email me", "method": "double_opt_in"},
        },
        headers={"Idempotency-Key": "grant-1"},
    )
    answer = decide(api, email=EMAIL, channel="email", audience="b2c", jurisdiction="FR", facts={"data_source": "form"})
    assert answer["decision"] != "forbidden", answer


def test_a_phone_call_says_when_it_next_becomes_lawful(api):
    facts = {
        "existing_customer": True,
        "offer_related_to_contract": True,
        "callee_is_consumer": False,
        "bloctel_registered": False,
    }
    body = dict(phone="+33612345678", channel="phone_human", audience="b2b_nominative", facts=facts)
    night = decide(api, **body, at="2026-12-04T22:30:00+01:00")  # a Friday night in Paris
    assert "next_lawful_call" in night
    if night["decision"] == "forbidden" and night["next_lawful_call"] is not None:
        assert night["next_lawful_call"] > "2026-12-04T22:30:00+01:00"


def test_a_batch_is_answered_in_order(api):
    contacts = [
        {"email": EMAIL, "channel": "email", "audience": "b2c", "jurisdiction": "FR", "facts": OPTED_IN},
        {"email": "x@example.de", "channel": "email"},
        {"phone": "+4930123456", "channel": "sms", "audience": "b2c"},
    ]
    response = api.client.post("/v1/decisions/batch", json={"contacts": contacts})
    assert response.status_code == 200, response.text
    decisions = response.json()["decisions"]
    assert [d["jurisdiction"] for d in decisions] == ["FR", None, "DE"]
    assert decisions[1]["decision"] == "forbidden"


def test_a_batch_of_a_thousand_is_answered_and_one_more_refused(api):
    contact = {"email": EMAIL, "channel": "email", "audience": "b2c", "jurisdiction": "FR"}
    full = api.client.post("/v1/decisions/batch", json={"contacts": [contact] * 1000})
    assert full.status_code == 200
    assert len(full.json()["decisions"]) == 1000
    over = api.client.post("/v1/decisions/batch", json={"contacts": [contact] * 1001})
    assert over.status_code == 400
    assert over.headers["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in over.json()["errors"]] == ["contacts"]


def test_a_fact_outside_the_vocabulary_is_named_in_a_batch(api):
    contacts = [{"channel": "email"}, {"channel": "email", "facts": {"consent_state": "perhaps"}}]
    response = api.client.post("/v1/decisions/batch", json={"contacts": contacts})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "contacts.1.facts.consent_state"


@pytest.mark.parametrize(
    ("given", "known", "expected"),
    [
        (2, 5, 5),
        (7, 5, 7),
        (False, True, True),
        (True, False, True),
        (date(2026, 1, 1), date(2026, 2, 1), date(2026, 2, 1)),
    ],
)
def test_the_stricter_of_two_values_wins(given, known, expected):
    from consentry.webhook_server.api.decisions import _stricter

    assert _stricter(given, known) == expected
