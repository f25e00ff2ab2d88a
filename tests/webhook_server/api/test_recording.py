"""POST /v1/consents and /v1/calls with Idempotency-Key replays, and GET /v1/people/proof."""

from consentry.sdk.store import consent_events

EMAIL = "paul.durand@example.fr"
PHONE = "+33612345678"
CONSENT = {
    "email": EMAIL,
    "channel": "email",
    "kind": "granted",
    "occurred_at": "2026-11-20T10:00:00+01:00",
    "proof": {
        "collection_point": "https://shop.example/signup",
        "wording": "Send me offers",
        "method": "double_opt_in",
    },
}
CALL = {"phone": PHONE, "called_at": "2026-12-02T10:00:00+01:00", "outcome": "no_answer"}


def test_a_consent_is_recorded_once_and_its_replay_answers_the_same(api):
    first = api.client.post("/v1/consents", json=CONSENT, headers={"Idempotency-Key": "form-42"})
    assert first.status_code == 201, first.text
    assert first.json() == {"event_key": "api:form-42", "new": True}
    again = api.client.post(
        "/v1/consents", json=dict(reversed(CONSENT.items())), headers={"Idempotency-Key": "form-42"}
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert api.count(consent_events) == 1


def test_the_same_key_with_another_body_is_a_409_and_records_nothing(api):
    api.client.post("/v1/consents", json=CONSENT, headers={"Idempotency-Key": "form-43"})
    other = {**CONSENT, "kind": "withdrawn"}
    response = api.client.post("/v1/consents", json=other, headers={"Idempotency-Key": "form-43"})
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]
    assert api.count(consent_events) == 1


def test_a_consent_needs_someone(api):
    body = {key: value for key, value in CONSENT.items() if key != "email"}
    response = api.client.post("/v1/consents", json=body, headers={"Idempotency-Key": "nobody"})
    assert response.status_code == 400
    assert "email" in [error["field"] for error in response.json()["errors"]]


def test_a_call_is_logged_once(api):
    first = api.client.post("/v1/calls", json=CALL, headers={"Idempotency-Key": "dialer-1"})
    assert first.status_code == 201, first.text
    assert first.json()["new"] is True
    again = api.client.post("/v1/calls", json=CALL, headers={"Idempotency-Key": "dialer-1"})
    assert again.json() == first.json()
    wrong = api.client.post("/v1/calls", json={**CALL, "outcome": "hung_up"}, headers={"Idempotency-Key": "dialer-2"})
    assert wrong.status_code == 400
    assert [error["field"] for error in wrong.json()["errors"]] == ["outcome"]


def test_the_proof_of_a_person_lists_what_was_recorded(api):
    api.client.post("/v1/consents", json=CONSENT, headers={"Idempotency-Key": "form-44"})
    response = api.client.get("/v1/people/proof", params={"email": EMAIL})
    assert response.status_code == 200, response.text
    assert "api:form-44" in response.text
    assert api.client.get("/v1/people/proof").status_code == 400  # neither email nor phone
