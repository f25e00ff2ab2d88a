"""Every refusal under /v1 is an RFC 9457 problem naming the fields at fault, never a value, and records nothing;
401 and 403 by key and scope, 429 past the key's rate, 413 past the body limit, 404 and 405; requests are counted
in /metrics by endpoint and status."""

import pytest

from consentry.sdk.store import consent_events, persons

EMAIL = "secret.person@example.fr"
PHONE = "+33612345678"
CONSENT = {"email": EMAIL, "channel": "email", "kind": "objected", "occurred_at": "2026-12-01T10:00:00+01:00"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body)
    assert body["status"] == status
    assert EMAIL not in response.text
    assert PHONE not in response.text
    assert "33612345678" not in response.text
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{", "body"),
        ("[" * 100_000 + "]" * 100_000, "body"),  # nested past the parser's recursion: invalid, not a 500
        ("[]", "body"),
        ('{"channel": "email", "colour": "blue"}', "colour"),
        ('{"channel": 3}', "channel"),
        ('{"channel": "carrier_pigeon"}', "channel"),
        ('{"channel": "email", "audience": "martians"}', "audience"),
        ('{"channel": "email", "jurisdiction": "ZZ"}', "jurisdiction"),
        ('{"channel": "email", "at": "2026-12-03T10:00:00"}', "at"),
        ('{"channel": "email", "facts": {"consent_state": "perhaps"}}', "facts.consent_state"),
        ('{"channel": "email", "facts": {"favourite_colour": "blue"}}', "facts.favourite_colour"),
        ('{"channel": "email", "facts": {"calls_in_last_30_days": "many"}}', "facts.calls_in_last_30_days"),
        ('{"channel": "email", "email": "not-an-address secret.person@example"}', "email"),
        ('{"channel": "sms", "phone": "+3361234"}', "phone"),
        ('{"contacts": []}', "contacts"),
    ],
)
def test_a_malformed_decision_request_is_a_400_naming_the_field(api, body, field):
    response = api.client.post("/v1/decisions", data=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400)
    assert field in [error["field"] for error in problem["errors"]]


def test_no_key_or_an_unknown_one_is_a_401(api):
    assert_problem(api.client.post("/v1/decisions", json={"channel": "email"}, key=None), 401)
    assert_problem(api.client.post("/v1/decisions", json={"channel": "email"}, key="csk_unknown"), 401)
    response = api.client.post(
        "/v1/decisions", json={"channel": "email"}, key=None, headers={"Authorization": "Basic x"}
    )
    assert_problem(response, 401)


def test_a_key_without_the_scope_is_a_403_and_records_nothing(api):
    decide_only = api.key("decide")
    response = api.client.post("/v1/consents", json=CONSENT, key=decide_only, headers={"Idempotency-Key": "k"})
    assert_problem(response, 403)
    assert api.count(consent_events) == 0
    assert api.count(persons) == 0
    assert_problem(api.client.get("/v1/people/proof", params={"email": EMAIL}, key=decide_only), 403)
    assert_problem(api.client.post("/v1/calls", json={}, key=decide_only, headers={"Idempotency-Key": "k"}), 403)
    assert api.client.post("/v1/decisions", json={"channel": "email"}, key=decide_only).status_code == 200


def test_a_refused_recording_records_nothing(api):
    assert_problem(api.client.post("/v1/consents", json=CONSENT), 400)  # no Idempotency-Key
    bad = {**CONSENT, "kind": "maybe"}
    assert_problem(api.client.post("/v1/consents", json=bad, headers={"Idempotency-Key": "k"}), 400)
    assert api.count(consent_events) == 0
    assert api.count(persons) == 0


def test_an_oversized_body_is_a_413(serve):
    api = serve(MAX_CONTENT_LENGTH=2048)
    contact = {"email": EMAIL, "channel": "email"}
    assert_problem(api.client.post("/v1/decisions/batch", json={"contacts": [contact] * 100}), 413)


def test_unknown_paths_and_methods_are_problems_but_other_paths_keep_their_shape(api):
    assert_problem(api.client.get("/v1/nothing-here", validate=False), 404)  # in no document
    assert_problem(api.client.get("/v1/decisions", validate=False), 405)
    assert api.client.get("/nothing-here").json()["error"] == "NotFound"  # the server's own JSON, outside /v1


def test_past_the_rate_a_key_gets_429_with_retry_after(serve):
    api = serve(API_RATE_LIMIT="3/minute")
    answers = [api.client.post("/v1/decisions", json={"channel": "email"}) for _ in range(4)]
    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    assert_problem(answers[3], 429)
    assert int(answers[3].headers["Retry-After"]) >= 1
    other = api.key("decide")  # each key has its own allowance
    assert api.client.post("/v1/decisions", json={"channel": "email"}, key=other).status_code == 200


def test_requests_are_counted_by_endpoint_and_status_without_identifiers(api):
    api.client.post("/v1/decisions", json={"channel": "email", "email": EMAIL})
    api.client.post("/v1/decisions", json={"channel": "nope"})
    metrics = api.client.get("/metrics").text
    assert 'consentry_api_requests_total{endpoint="/v1/decisions",status="200"} 1.0' in metrics
    assert 'consentry_api_requests_total{endpoint="/v1/decisions",status="400"} 1.0' in metrics
    assert EMAIL not in metrics
