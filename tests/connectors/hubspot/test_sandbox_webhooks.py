"""Webhook deliveries of the HubSpot sandbox, received by a small Flask app over real HTTP: signatures that HubSpot's
official helper validates (v1, v2, v3), retries with attemptNumber raised, batches of at most 100, the events a
consent connector relies on, and the management API's refusals."""

import json
import threading
import time

import pytest
import requests
from flask import Flask, request
from hubspot.utils.signature import Signature

from consentry.connectors.hubspot.sandbox import APP_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, PORTAL_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
HOOKS = f"/webhooks/v3/{APP_ID}"
V4 = "/communication-preferences/v4"


class Receiver:
    """The app's endpoint: records every request and answers the given statuses in order, then 200."""

    def __init__(self, *statuses: int):
        self.received: list[dict] = []
        self.statuses = list(statuses)
        self._lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hubspot/hook")
        def hook():
            with self._lock:
                self.received.append(
                    {
                        "body": request.get_data(as_text=True),
                        "headers": {k.lower(): v for k, v in request.headers.items()},
                        "url": request.url,
                    }
                )
                status = self.statuses.pop(0) if self.statuses else 200
            return "", status

        self.server = ServerThread(app).start()
        self.url = f"{self.server.url}/hubspot/hook"

    def events(self) -> list[dict]:
        with self._lock:
            return [event for hit in self.received for event in json.loads(hit["body"])]


def eventually(check, *, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


class Hub:
    def __init__(self, **options):
        self.app = create_app(webhook_backoff=lambda attempt: 0.05, **options)
        self.server = ServerThread(self.app).start()
        self.url = self.server.url

    def call(self, method: str, path: str, **options) -> requests.Response:
        options.setdefault("headers", AUTH)
        return requests.request(method, f"{self.url}{path}", timeout=10, **options)

    def point_at(self, receiver: Receiver, *subscriptions: dict) -> None:
        settings = {"targetUrl": receiver.url, "throttling": {"maxConcurrentRequests": 10}}
        self.call("PUT", f"{HOOKS}/settings", json=settings).raise_for_status()
        for subscription in subscriptions:
            self.call("POST", f"{HOOKS}/subscriptions", json={"active": True, **subscription}).raise_for_status()

    def seed(self, *contacts: dict) -> None:
        self.call("POST", "/_sandbox/contacts/seed", json={"contacts": list(contacts)}).raise_for_status()

    def deliveries(self) -> list[dict]:
        return self.call("GET", "/_sandbox/deliveries").json()["deliveries"]


OPT_OUT = {"eventType": "contact.propertyChange", "propertyName": "hs_email_optout"}


@pytest.fixture
def make_hub():
    started: list[Hub] = []
    receivers: list[Receiver] = []

    def make(*statuses: int, **options) -> tuple[Hub, Receiver]:
        started.append(Hub(**options))
        receivers.append(Receiver(*statuses))
        return started[-1], receivers[-1]

    yield make
    for hub in started:
        hub.server.stop()
        hub.app.extensions["hubspot_sandbox"].close()
    for receiver in receivers:
        receiver.server.stop()


def valid(hit: dict, version: str) -> bool:
    headers = hit["headers"]
    if version == "v3":
        signature, timestamp = headers["x-hubspot-signature-v3"], headers["x-hubspot-request-timestamp"]
    else:
        assert headers["x-hubspot-signature-version"] == version
        signature, timestamp = headers["x-hubspot-signature"], None
    return Signature.is_valid(
        signature=signature,
        client_secret=DEFAULT_CLIENT_SECRET,
        request_body=hit["body"],
        http_uri=hit["url"],
        http_method="POST",
        signature_version=version,
        timestamp=timestamp,
    )


@pytest.mark.parametrize("legacy", ["v1", "v2"])
def test_deliveries_validate_with_the_official_signature_helper(make_hub, legacy):
    hub, receiver = make_hub(signature_version=legacy)
    hub.point_at(receiver, OPT_OUT)
    hub.seed({"email": "sig@example.com"})
    hub.call("POST", "/_sandbox/contacts/unsubscribe", json={"email": "sig@example.com"}).raise_for_status()
    [hit] = eventually(lambda: receiver.received)
    assert valid(hit, "v3")
    assert valid(hit, legacy)
    assert not Signature.is_valid(
        signature=hit["headers"]["x-hubspot-signature-v3"],
        client_secret="another-secret",
        request_body=hit["body"],
        http_uri=hit["url"],
        signature_version="v3",
        timestamp=hit["headers"]["x-hubspot-request-timestamp"],
    )
    assert abs(int(hit["headers"]["x-hubspot-request-timestamp"]) - time.time() * 1000) < 60_000
    assert hit["headers"]["content-type"] == "application/json"
    [event] = json.loads(hit["body"])
    assert event == {
        "eventId": event["eventId"],
        "subscriptionId": 1,
        "portalId": PORTAL_ID,
        "appId": APP_ID,
        "occurredAt": event["occurredAt"],
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 1001,
        "propertyName": "hs_email_optout",
        "propertyValue": "true",
        "changeSource": "EMAIL",
    }


def test_a_failed_delivery_is_retried_with_attempt_number_raised_and_signed_again(make_hub):
    hub, receiver = make_hub(500)
    hub.point_at(receiver, OPT_OUT)
    hub.seed({"email": "retry@example.com"})
    hub.call("POST", "/_sandbox/contacts/unsubscribe", json={"email": "retry@example.com"}).raise_for_status()
    first, second = eventually(lambda: receiver.received if len(receiver.received) >= 2 else None)
    [failed], [retried] = json.loads(first["body"]), json.loads(second["body"])
    assert (failed["attemptNumber"], retried["attemptNumber"]) == (0, 1)
    assert failed["eventId"] == retried["eventId"]
    assert valid(first, "v3")
    assert valid(second, "v3")
    assert valid(second, "v1")
    log = eventually(lambda: hub.deliveries() if len(hub.deliveries()) >= 2 else None)
    assert [(entry["attempt"], entry["outcome"]) for entry in log] == [(0, 500), (1, 200)]
    assert log[0]["eventIds"] == [failed["eventId"]]
    time.sleep(0.2)
    assert len(receiver.received) == 2  # delivered once it succeeded


def test_events_are_batched_in_arrays_of_at_most_100(make_hub):
    hub, receiver = make_hub(webhook_flush_interval=None)
    hub.point_at(receiver, OPT_OUT)
    emails = [f"b{n}@example.com" for n in range(150)]
    hub.seed(*({"email": email} for email in emails))
    answer = hub.call(
        "POST", f"{V4}/statuses/batch/unsubscribe-all", params={"channel": "EMAIL"}, json={"inputs": emails}
    )
    answer.raise_for_status()
    time.sleep(0.2)
    assert receiver.received == []  # manual flushing: nothing leaves before the flush
    assert hub.call("POST", "/_sandbox/webhooks/flush").json() == {"batches": 2, "events": 150}
    eventually(lambda: len(receiver.received) == 2)
    assert sorted(len(json.loads(hit["body"])) for hit in receiver.received) == [50, 100]
    events = receiver.events()
    assert {e["changeSource"] for e in events} == {"API"}
    assert len({e["eventId"] for e in events}) == 150
    assert {e["objectId"] for e in events} == set(range(1001, 1151))


def test_deletions_and_privacy_deletions_are_delivered(make_hub):
    hub, receiver = make_hub()
    hub.point_at(receiver, {"eventType": "contact.deletion"}, {"eventType": "contact.privacyDeletion"})
    hub.seed({"email": "archived@example.com"}, {"email": "erased@example.com"})
    assert hub.call("DELETE", "/crm/v3/objects/contacts/1001").status_code == 204
    gdpr = hub.call(
        "POST", "/crm/v3/objects/contacts/gdpr-delete", json={"objectId": "erased@example.com", "idProperty": "email"}
    )
    assert gdpr.status_code == 204
    events = eventually(lambda: receiver.events() if len(receiver.events()) >= 3 else None)
    assert sorted((e["subscriptionType"], e["objectId"]) for e in events) == [
        ("contact.deletion", 1001),
        ("contact.deletion", 1002),
        ("contact.privacyDeletion", 1002),
    ]


def test_changes_made_in_hubspot_carry_their_source(make_hub):
    hub, receiver = make_hub()
    hub.point_at(receiver, OPT_OUT, {"eventType": "contact.propertyChange", "propertyName": "hs_email_optout_102"})
    hub.seed({"email": "ui@example.com"}, {"email": "link@example.com"})
    unsubscribe = "/_sandbox/contacts/unsubscribe"
    hub.call("POST", unsubscribe, json={"email": "ui@example.com", "source": "CRM_UI"}).raise_for_status()
    hub.call("POST", unsubscribe, json={"email": "link@example.com", "subscriptionId": 102}).raise_for_status()
    events = eventually(lambda: receiver.events() if len(receiver.events()) >= 3 else None)
    seen = {
        (e["objectId"], e["propertyName"], e["propertyValue"], e["changeSource"], e.get("sourceId")) for e in events
    }
    assert seen == {
        (1001, "hs_email_optout", "true", "CRM_UI", "userId:1000001"),
        (1001, "hs_email_optout_102", "true", "CRM_UI", "userId:1000001"),
        (1002, "hs_email_optout_102", "true", "EMAIL", None),
    }


def test_inactive_subscriptions_other_properties_and_seeding_send_nothing(make_hub):
    hub, receiver = make_hub(webhook_flush_interval=None)
    hub.point_at(receiver, {"eventType": "contact.propertyChange", "propertyName": "firstname"})
    hub.call(
        "POST", f"{HOOKS}/subscriptions", json={"eventType": "contact.creation", "active": False}
    ).raise_for_status()
    hub.seed({"email": "quiet@example.com", "firstname": "Quiet", "opted_out": True})
    hub.call("POST", "/crm/v3/objects/contacts", json={"properties": {"email": "loud@example.com", "lastname": "L"}})
    hub.call("PATCH", "/crm/v3/objects/contacts/1002", json={"properties": {"firstname": "Lou"}}).raise_for_status()
    assert hub.call("POST", "/_sandbox/webhooks/flush").json()["events"] == 1
    [event] = eventually(receiver.events)
    assert (event["objectId"], event["propertyName"], event["propertyValue"]) == (1002, "firstname", "Lou")


def test_the_management_api_refuses_what_hubspot_refuses(make_hub):
    hub, _receiver = make_hub()
    assert hub.call("GET", f"{HOOKS}/settings").status_code == 404
    outside = {"targetUrl": "https://example.com/hook", "throttling": {"maxConcurrentRequests": 10}}
    assert hub.call("PUT", f"{HOOKS}/settings", json=outside).status_code == 400
    assert hub.call("PUT", f"{HOOKS}/settings", json={"targetUrl": _receiver.url}).status_code == 400
    assert hub.call("GET", "/webhooks/v3/999/settings").status_code == 404
    assert hub.call("POST", f"{HOOKS}/subscriptions", json={"eventType": "contact.sneeze"}).status_code == 400
    no_property = hub.call("POST", f"{HOOKS}/subscriptions", json={"eventType": "contact.propertyChange"})
    assert no_property.status_code == 400
    created = hub.call("POST", f"{HOOKS}/subscriptions", json={"eventType": "contact.deletion"}).json()
    assert (created["id"], created["active"]) == ("1", False)
    assert hub.call("DELETE", f"{HOOKS}/subscriptions/1").status_code == 204
    assert hub.call("GET", f"{HOOKS}/subscriptions/1").status_code == 404
