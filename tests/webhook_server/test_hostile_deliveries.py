"""Hostile deliveries from the outside attack of issue 19, posted to the Flask app as the vendors would post them:
each gets the status the README promises, and nothing of it is stored (no event, no job). Beside each, the same
delivery made right is stored, so that a count of zero means a refusal and not a request that went nowhere."""

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
import requests
from flask import request
from sqlalchemy import func, select
from werkzeug.exceptions import BadRequest

from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN
from consentry.connectors.hubspot.webhooks import signature_v3
from consentry.connectors.salesforce import outbound
from consentry.sdk.errors import ConfigurationError
from consentry.sdk.store import consent_events, propagation_jobs, upgrade
from consentry.webhook_server import create_app

from .test_malformed_deliveries import hubspot_opt_out

ORGANIZATION = "00D000000000001AAA"
SALESFORCE_TOKEN = "w" * 24
MAILCHIMP_SECRET = "whsec-hostile-0123456789"
LIST_ID = "a1b2c3d4e5"
NOT_FINITE = ["nan", "NaN", "inf", "-inf", "1e400"]


@pytest.fixture
def client(hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    app = create_app(config(tmp_path, hubspot.url))
    yield app.test_client()
    app.extensions["consentry"].runtime.close()


def config(tmp_path, hubspot_url: str, **salesforce) -> dict:
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(database_url)
    return {
        "DATABASE_URL": database_url,
        "SUPPRESSION_PEPPER": "hostile-test-pepper-0123456789",
        "CONNECTORS": ["mailchimp", "hubspot", "salesforce"],
        "CONNECTOR_SETTINGS": {
            "mailchimp": {
                "api_key": "0123456789abcdef-us6",
                "list_id": LIST_ID,
                "webhook_signing_secret": MAILCHIMP_SECRET,
            },
            "hubspot": {"access_token": DEFAULT_TOKEN, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": hubspot_url},
            "salesforce": {
                "client_id": "x",
                "organization_id": ORGANIZATION,
                "webhook_token": SALESFORCE_TOKEN,
                **salesforce,
            },
        },
    }


def stored(client) -> tuple[int, int]:
    """(consent events, propagation jobs) in the database."""
    engine = client.application.extensions["consentry"].runtime.services.engine
    with engine.connect() as connection:
        return tuple(
            connection.execute(select(func.count()).select_from(table)).scalar()
            for table in (consent_events, propagation_jobs)
        )


def post(client, delivery: dict):
    delivery = dict(delivery)
    return client.post(delivery.pop("path"), **delivery)


# -- HubSpot -----------------------------------------------------------------------------------------------------


def synced_contact(hubspot) -> int:
    """A contact HubSpot knows, so that a good delivery naming it is stored."""
    seeded = {"contacts": [{"email": "kept@example.com"}]}
    requests.post(f"{hubspot.url}/_sandbox/contacts/seed", json=seeded, timeout=5).raise_for_status()
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    listed = requests.get(f"{hubspot.url}/crm/v3/objects/contacts", headers=auth, timeout=5)
    return int(listed.json()["results"][0]["id"])


def signed_hubspot(body: bytes, *, stamp: str | None = None) -> dict:
    stamp = str(int(time.time() * 1000)) if stamp is None else stamp
    signature = signature_v3(DEFAULT_CLIENT_SECRET.encode(), "POST", "http://localhost/webhooks/hubspot", body, stamp)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    return {"path": "/webhooks/hubspot", "data": body, "headers": headers, "content_type": "application/json"}


# -- Mailchimp ---------------------------------------------------------------------------------------------------


def mailchimp_unsubscribe(**data) -> dict:
    fields = {
        "type": "unsubscribe",
        "fired_at": "2026-11-23 10:00:00",
        "data[action]": "unsub",
        "data[id]": "8a25ff1d98",
        "data[email]": "jeanne@example.com",
        "data[list_id]": LIST_ID,
    }
    fields.update({f"data[{key}]": value for key, value in data.items()})
    return {key: value for key, value in fields.items() if value is not None}


def signed_mailchimp(fields: dict, *, stamp: str | None = None) -> dict:
    body = urlencode(fields).encode()
    stamp = str(int(time.time())) if stamp is None else stamp
    signature = hmac.new(MAILCHIMP_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Mailchimp-Signature": f"t={stamp},v1={signature}"}
    return {
        "path": "/webhooks/mailchimp",
        "data": body,
        "headers": headers,
        "content_type": "application/x-www-form-urlencoded",
    }


# -- a timestamp that is not a finite number (NaN compared false with both bounds of the replay window) ---------


@pytest.mark.parametrize("stamp", NOT_FINITE)
def test_a_hubspot_v3_timestamp_that_is_not_finite_is_a_401_and_nothing_is_stored(client, hubspot, stamp):
    body = json.dumps([hubspot_opt_out(synced_contact(hubspot))]).encode()
    answer = post(client, signed_hubspot(body, stamp=stamp))
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.json["error"] == "WebhookRejected"
    assert stored(client) == (0, 0)
    assert post(client, signed_hubspot(body)).status_code == 200  # the same delivery, stamped now
    assert stored(client) == (1, 2)


@pytest.mark.parametrize("stamp", NOT_FINITE)
def test_a_mailchimp_signature_timestamp_that_is_not_finite_is_a_401_and_nothing_is_stored(client, stamp):
    answer = post(client, signed_mailchimp(mailchimp_unsubscribe(), stamp=stamp))
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.json["error"] == "WebhookRejected"
    assert stored(client) == (0, 0)
    assert post(client, signed_mailchimp(mailchimp_unsubscribe())).status_code == 200
    assert stored(client) == (1, 2)


# -- a body nested too deeply for json.loads (a RecursionError, which was a 500 and missing from /metrics) ---------


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'[{"a":' * 50_000 + b"1" + b"}]" * 50_000],
    ids=["arrays", "objects"],
)
def test_a_hubspot_body_nested_too_deeply_is_a_400_and_nothing_is_stored(client, hubspot, body):
    answer = post(client, signed_hubspot(body))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["error"] == "MalformedWebhook"
    assert stored(client) == (0, 0)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'consentry_webhooks_rejected_total{connector="hubspot",reason="malformed"} 1.0' in metrics
    good = json.dumps([hubspot_opt_out(synced_contact(hubspot))]).encode()
    assert post(client, signed_hubspot(good)).status_code == 200
    assert stored(client) == (1, 2)


# -- more notifications in one Salesforce message than Salesforce ever sends (it was a 401) ----------------------


def salesforce_opt_outs(count: int, *, token: str | None = SALESFORCE_TOKEN) -> dict:
    notifications = [
        (f"04l{n:015d}", "Contact", {"Id": f"003{n:015d}", "Email": f"p{n}@example.com", "HasOptedOutOfEmail": True})
        for n in range(count)
    ]
    body = outbound.envelope(ORGANIZATION, "04k000000000001", notifications)
    path = "/webhooks/salesforce" + (f"?token={token}" if token is not None else "")
    return {"path": path, "data": body, "content_type": "text/xml"}


def test_more_than_100_salesforce_notifications_is_a_400_and_nothing_is_stored(client):
    answer = post(client, salesforce_opt_outs(101))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["error"] == "MalformedWebhook"
    assert stored(client) == (0, 0)
    answer = post(client, salesforce_opt_outs(100))  # the most Salesforce sends
    assert answer.status_code == 200
    assert outbound.acknowledged(answer.get_data(as_text=True))
    assert stored(client) == (100, 200)


# -- a Mailchimp delivery for another audience, or naming none (it was stored as this audience's) ----------------


@pytest.mark.parametrize("list_id", ["0a0a0a0a0a", "", None], ids=["another audience", "empty", "missing"])
def test_a_mailchimp_delivery_for_another_audience_is_a_400_and_nothing_is_stored(client, list_id):
    answer = post(client, signed_mailchimp(mailchimp_unsubscribe(list_id=list_id)))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["error"] == "MalformedWebhook"
    assert stored(client) == (0, 0)
    assert post(client, signed_mailchimp(mailchimp_unsubscribe())).status_code == 200  # this audience's
    assert stored(client) == (1, 2)


# -- Salesforce without its webhook token: the organisation id alone is public, one forged message was stored --------


def test_salesforce_without_its_webhook_token_refuses_to_start_and_starts_with_it(tmp_path, monkeypatch):
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(database_url)
    settings = {"DATABASE_URL": database_url, "SUPPRESSION_PEPPER": "hostile-test-pepper-0123456789"}
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    monkeypatch.setenv("CONSENTRY_CONNECTORS", "salesforce")  # configured as an operator does, by the environment
    monkeypatch.setenv("CONSENTRY_SALESFORCE_CLIENT_ID", "x")
    monkeypatch.setenv("CONSENTRY_SALESFORCE_ORGANIZATION_ID", ORGANIZATION)
    with pytest.raises(ConfigurationError) as error:
        create_app(settings)
    assert "salesforce" in str(error.value)
    assert "refusing to start" in str(error.value)

    monkeypatch.setenv("CONSENTRY_SALESFORCE_WEBHOOK_TOKEN", SALESFORCE_TOKEN)
    app = create_app(settings)
    try:
        client = app.test_client()
        for forged in (salesforce_opt_outs(100, token=None), salesforce_opt_outs(100, token="guess")):
            answer = post(client, forged)  # the right organisation id, the wrong token or none
            assert answer.status_code == 401, answer.get_data(as_text=True)
            assert answer.json["error"] == "WebhookRejected"
            assert stored(client) == (0, 0)
        assert post(client, salesforce_opt_outs(1)).status_code == 200
        assert stored(client) == (1, 0)  # no other system to tell
    finally:
        app.extensions["consentry"].runtime.close()


def test_any_route_reading_json_refuses_a_body_nested_too_deeply(client):
    """Flask's own `request.get_json`, which a route may call outside the API's parser, measures the body too."""
    deep = b"[" * 100_000 + b"]" * 100_000
    with client.application.test_request_context("/", method="POST", data=deep, content_type="application/json"):
        with pytest.raises(BadRequest):
            request.get_json()
        assert request.get_json(silent=True) is None
