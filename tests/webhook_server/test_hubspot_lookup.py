"""An opt-out from HubSpot for a contact Consentry never synced: the delivery names a contact id only, and the
address comes from HubSpot. Without it the opt-out could not be recorded, so no 2xx until HubSpot answers."""

import json
import time

import pytest
import requests
from sqlalchemy import select

from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN
from consentry.connectors.hubspot.sandbox import create_app as hubspot_sandbox
from consentry.connectors.hubspot.webhooks import signature_v3
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.store import consent_events
from consentry.webhook_server import create_app


@pytest.fixture
def hubspot():
    with ServerThread(hubspot_sandbox()) as server:
        yield server


@pytest.fixture
def app(hubspot, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": "lookup-test-pepper-0123456789",
            "CONNECTORS": ["hubspot"],
            "CONNECTOR_SETTINGS": {
                "hubspot": {
                    "access_token": DEFAULT_TOKEN,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                    "base_url": hubspot.url,
                }
            },
        }
    )
    yield app
    app.extensions["consentry"].runtime.close()


def new_contact(hubspot) -> int:
    made = requests.post(
        f"{hubspot.url}/crm/v3/objects/contacts",
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
        json={"properties": {"email": "jane@example.com"}},
        timeout=5,
    )
    return int(made.json()["id"])


def deliver_opt_out(app, contact_id: int):
    body = json.dumps(
        [
            {
                "eventId": 7,
                "subscriptionId": 1,
                "portalId": 62515,
                "appId": 1,
                "occurredAt": 1_795_000_000_000,
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": contact_id,
                "changeSource": "CRM_UI",
                "propertyName": "hs_email_optout",
                "propertyValue": "true",
            }
        ]
    ).encode()
    stamp = str(int(time.time() * 1000))
    signature = signature_v3(DEFAULT_CLIENT_SECRET.encode(), "POST", "http://localhost/webhooks/hubspot", body, stamp)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    return app.test_client().post("/webhooks/hubspot", data=body, content_type="application/json", headers=headers)


def recorded(app) -> list[str]:
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return list(connection.execute(select(consent_events.c.kind)).scalars())


def test_a_failed_look_up_gets_503_then_the_redelivery_is_recorded(app, hubspot):
    """Before, the failure was swallowed: the event had no address, was skipped, and HubSpot got a 200."""
    contact = new_contact(hubspot)
    requests.post(f"{hubspot.url}/_sandbox/faults", json={"fail_next": 1, "fail_status": 503}, timeout=5)
    started = time.monotonic()
    answer = deliver_opt_out(app, contact)
    assert answer.status_code == 503
    assert answer.json["error"] == "VendorUnavailable"
    assert time.monotonic() - started < 5  # one try: HubSpot waits 5 s for an answer
    assert recorded(app) == []
    assert deliver_opt_out(app, contact).status_code == 200  # HubSpot sends it again, and now it is recorded
    assert recorded(app) == ["withdrawn"]


def test_a_proxy_page_instead_of_the_answer_gets_503_too(app, hubspot):
    """A 200 with an HTML page used to read as "no such contact": the event was skipped and acknowledged."""
    contact = new_contact(hubspot)
    requests.post(f"{hubspot.url}/_sandbox/faults", json={"garbage_next": 1}, timeout=5)
    answer = deliver_opt_out(app, contact)
    assert answer.status_code == 503
    assert recorded(app) == []
    assert deliver_opt_out(app, contact).status_code == 200
    assert recorded(app) == ["withdrawn"]
