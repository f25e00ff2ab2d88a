"""Authentic deliveries of every wrong shape, to the three real connectors: a 4xx each time, never a 500.

The bodies are generated from a fixed seed (the same cases on every run), so that a failure can be replayed.
"""

import json
import random
import time
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN
from consentry.connectors.hubspot.webhooks import signature_v3
from consentry.connectors.salesforce import outbound
from consentry.sdk.store import consent_events, upgrade
from consentry.webhook_server import create_app

ORGANIZATION = "00D000000000001AAA"
ODD_VALUES = [None, True, 0, -1, 2**70, 1.5, "", "x", "2026-13-45", "\U0001f600", [], {}, [1], {"a": 1}, "1" * 300]


@pytest.fixture
def client(hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": "malformed-test-pepper-0123456789",
            "CONNECTORS": ["mailchimp", "hubspot", "salesforce"],
            "CONNECTOR_SETTINGS": {
                "mailchimp": {"api_key": "0123456789abcdef-us6", "list_id": "f1", "webhook_url_token": "t" * 24},
                "hubspot": {
                    "access_token": DEFAULT_TOKEN,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                    "base_url": hubspot.url,  # where it looks up the addresses of the contacts named by id
                },
                "salesforce": {"client_id": "x", "organization_id": ORGANIZATION, "webhook_token": "w" * 24},
            },
        }
    )
    yield app.test_client()
    app.extensions["consentry"].runtime.close()


def hubspot_opt_out(object_id: int = 5, kind: str = "contact.propertyChange") -> dict:
    return {
        "eventId": 1,
        "subscriptionId": 1,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1_795_000_000_000,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM_UI",
        "propertyName": "hs_email_optout",
        "propertyValue": "true",
    }


def hubspot_event(rnd: random.Random) -> dict:
    event = hubspot_opt_out(kind=rnd.choice(["contact.propertyChange", "contact.privacyDeletion"]))
    for key in rnd.sample(sorted(event), rnd.randint(1, 3)):
        if rnd.random() < 0.2:
            del event[key]
        else:
            event[key] = rnd.choice(ODD_VALUES)
    return event


def hubspot_request(rnd: random.Random) -> dict:
    payload = rnd.choice(
        [[hubspot_event(rnd) for _ in range(rnd.randint(1, 3))], hubspot_event(rnd), rnd.choice(ODD_VALUES)]
    )
    return signed_hubspot(payload)


def signed_hubspot(payload) -> dict:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() * 1000))
    signature = signature_v3(DEFAULT_CLIENT_SECRET.encode(), "POST", "http://localhost/webhooks/hubspot", body, stamp)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    return {"path": "/webhooks/hubspot", "data": body, "headers": headers, "content_type": "application/json"}


def mailchimp_request(rnd: random.Random) -> dict:
    fields = {
        "type": rnd.choice(["unsubscribe", "cleaned", "subscribe", "profile", ""]),
        "fired_at": rnd.choice(["2026-11-23 10:00:00", "2026-13-45 99:00:00", "", "2026-11-23T10:00:00+05:00"]),
        "data[email]": rnd.choice(["a@example.com", "", "not-an-address", "x" * 300 + "@example.com"]),
        "data[list_id]": "f1",
        "data[id]": rnd.choice(["", "8a25ff1d98", "\U0001f600"]),
        "data[reason]": rnd.choice(["abuse", "hard", ""]),
    }
    kept = {key: value for key, value in fields.items() if rnd.random() > 0.15}
    body = urlencode(kept).encode() if rnd.random() > 0.1 else rnd.randbytes(rnd.randint(0, 40))
    path = f"/webhooks/mailchimp?token={'t' * 24}"
    return {"path": path, "data": body, "content_type": "application/x-www-form-urlencoded"}


def salesforce_request(rnd: random.Random) -> dict:
    def fields():
        return {
            "Id": rnd.choice(["003000000000001AAA", "", "\U0001f600"]),
            "HasOptedOutOfEmail": rnd.choice(["true", "false", "", "TRUE", "1"]),
            "DoNotCall": rnd.choice(["true", "false"]),
            "Email": rnd.choice(["a@example.com", "", "not-an-address", None]),
            "Phone": rnd.choice(["+33612345678", "12", "", None]),
            "SystemModstamp": rnd.choice(["2026-11-23T10:00:00.000Z", "", "garbage", "2026-02-30T10:00:00Z", None]),
        }

    notifications = [
        (rnd.choice(["04l1", "", "04l2"]), rnd.choice(["Contact", "Lead", "Account"]), fields())
        for _ in range(rnd.randint(0, 3))
    ]
    body = outbound.envelope(ORGANIZATION, "04k1", notifications)
    if rnd.random() < 0.1:
        body = body[: rnd.randint(0, len(body))]
    return {"path": f"/webhooks/salesforce?token={'w' * 24}", "data": body, "content_type": "text/xml"}


@pytest.mark.parametrize("make_request", [hubspot_request, mailchimp_request, salesforce_request])
def test_authentic_deliveries_of_any_shape_never_get_a_5xx(client, make_request):
    rnd = random.Random(make_request.__name__)
    statuses = {}
    for _ in range(300):
        request = make_request(rnd)
        answer = client.post(request.pop("path"), **request)
        assert answer.status_code < 500, answer.get_data(as_text=True)
        assert answer.is_json or answer.status_code == 200
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    refused = sum(count for status, count in statuses.items() if status >= 400)
    assert refused > 0  # the generator reached the checks
    assert statuses.get(200, 0) > 0  # and the ledger
    if make_request is not salesforce_request:  # Salesforce's body is its credential: a broken one is a 401
        assert statuses.get(400, 0) > 0


def test_a_malformed_delivery_stores_none_of_its_good_events(client, hubspot):
    seeded = {"contacts": [{"email": "kept@example.com"}]}
    requests.post(f"{hubspot.url}/_sandbox/contacts/seed", json=seeded, timeout=5).raise_for_status()
    listed = requests.get(
        f"{hubspot.url}/crm/v3/objects/contacts", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    )
    good = hubspot_opt_out(object_id=int(listed.json()["results"][0]["id"]))
    alone = signed_hubspot([good])
    spoilt = signed_hubspot([good, {**good, "objectId": 8, "occurredAt": 2**70}])
    assert client.post(spoilt.pop("path"), **spoilt).status_code == 400
    assert stored_events(client) == 0
    assert client.post(alone.pop("path"), **alone).status_code == 200  # the same good event, alone, is kept
    assert stored_events(client) == 1


def stored_events(client) -> int:
    engine = client.application.extensions["consentry"].runtime.services.engine
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(consent_events)).scalar()
