"""Outbound Messages from the Salesforce sandbox to a receiving Flask app on 127.0.0.1: the SOAP envelope, which
changes send one, batches of at most 100 notifications, and retries until the receiver acknowledges."""

import threading
import time

import pytest
import requests
from defusedxml import ElementTree
from flask import Flask, request

from consentry.connectors.salesforce.sandbox import DEFAULT_ORG_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread

OUT = "{http://soap.sforce.com/2005/09/outbound}"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
SF = "{urn:sobject.enterprise.soap.sforce.com}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)
NACK = ACK.replace("<Ack>true</Ack>", "<Ack>false</Ack>")


class Receiver:
    """A Flask app that records each POST and answers from a script (then acknowledges)."""

    def __init__(self, answers=()):
        self.received: list[dict] = []
        self.answers = list(answers)
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", "hook", self.hook, methods=["POST"])

    def hook(self):
        with self.lock:
            self.received.append({"headers": dict(request.headers), "body": request.get_data()})
            answer = self.answers.pop(0) if self.answers else (ACK, 200)
        return answer[0], answer[1], {"Content-Type": "text/xml; charset=utf-8"}

    def wait_for(self, count: int, deadline: float = 5.0) -> list[dict]:
        stop = time.monotonic() + deadline
        while time.monotonic() < stop:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} deliveries, expected {count}")


def notifications(body: bytes) -> tuple[dict, list[dict]]:
    root = ElementTree.fromstring(body)
    message = root.find(f"{SOAP}Body/{OUT}notifications")
    header = {child.tag.removeprefix(OUT): child for child in message if child.tag != f"{OUT}Notification"}
    items = []
    for note in message.findall(f"{OUT}Notification"):
        sobject = note.find(f"{OUT}sObject")
        items.append(
            {
                "id": note.findtext(f"{OUT}Id"),
                "type": sobject.get(f"{XSI}type"),
                "fields": {child.tag.removeprefix(SF): child.text for child in sobject},
            }
        )
    return header, items


@pytest.fixture
def receiver():
    return Receiver()


@pytest.fixture
def target(receiver):
    with ServerThread(receiver.app) as running:
        yield running


def start(target, **options):
    app = create_app(outbound_url=f"{target.url}/hook", outbound_backoff=lambda attempt: 0.05, **options)
    return app, ServerThread(app).start()


@pytest.fixture
def manual(target):
    """A sandbox whose outbound notifications wait for POST /_sandbox/outbound/flush."""
    app, running = start(target, outbound_flush_interval=None)
    yield running
    running.stop()
    app.extensions["salesforce_sandbox"].close()


def admin(server, path: str, body: dict | None = None) -> dict:
    answer = requests.post(f"{server.url}/_sandbox/{path}", json=body if body is not None else {}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def api(server) -> tuple[str, dict]:
    token = admin(server, "token")["access_token"]
    return f"{server.url}/services/data/v60.0", {"Authorization": f"Bearer {token}"}


def test_a_user_opting_out_sends_a_message_retried_until_acknowledged():
    receiver = Receiver([("server error", 500), ("", 200), (NACK, 200), (ACK, 200)])
    with ServerThread(receiver.app) as hook:
        app, server = start(hook)
        try:
            [contact] = admin(server, "seed", {"Contact": [{"LastName": "Doe", "Email": "jane@example.com"}]})["ids"][
                "Contact"
            ]
            assert admin(
                server, "ui-change", {"email": "JANE@example.com", "fields": {"HasOptedOutOfEmail": True}}
            ) == {
                "changed": 1,
                "ids": [contact],
            }
            attempts = receiver.wait_for(4)
            time.sleep(0.2)
            assert len(receiver.received) == 4  # acknowledged: no fifth attempt
            log = requests.get(f"{server.url}/_sandbox/deliveries", timeout=5).json()["deliveries"]
        finally:
            server.stop()
            app.extensions["salesforce_sandbox"].close()
    assert [(e["outcome"], e["acknowledged"]) for e in log] == [(500, False), (200, False), (200, False), (200, True)]
    assert len({tuple(e["notifications"]) for e in log}) == 1  # the same notification ids on every attempt
    first = attempts[0]
    assert first["headers"]["Soapaction"] == '""'
    assert first["headers"]["Content-Type"] == "text/xml; charset=utf-8"
    header, [item] = notifications(attempts[-1]["body"])
    assert header["OrganizationId"].text == DEFAULT_ORG_ID
    assert header["ActionId"].text.startswith("04k")
    assert header["SessionId"].get(f"{XSI}nil") == "true"
    assert header["EnterpriseUrl"].text == f"{server.url}/services/Soap/c/60.0/{DEFAULT_ORG_ID[:15]}"
    assert header["PartnerUrl"].text == f"{server.url}/services/Soap/u/60.0/{DEFAULT_ORG_ID[:15]}"
    assert item["id"].startswith("04l")
    assert item["type"] == "sf:Contact"
    assert next(iter(item["fields"])) == "Id"
    assert item["fields"]["Id"] == contact
    assert item["fields"]["Email"] == "jane@example.com"
    assert (item["fields"]["HasOptedOutOfEmail"], item["fields"]["DoNotCall"]) == ("true", "false")
    assert item["fields"]["SystemModstamp"].endswith("Z")


def test_which_changes_send_a_message(manual, receiver):
    base, headers = api(manual)
    [quiet] = admin(manual, "seed", {"Contact": [{"LastName": "Seeded", "HasOptedOutOfEmail": True}]})["ids"]["Contact"]
    requests.patch(f"{base}/sobjects/Contact/{quiet}", json={"FirstName": "Renamed"}, headers=headers, timeout=5)
    requests.patch(f"{base}/sobjects/Contact/{quiet}", json={"HasOptedOutOfEmail": True}, headers=headers, timeout=5)
    assert admin(manual, "outbound/flush") == {"messages": 0, "notifications": 0}  # nothing changed that matters

    opted_in = requests.patch(
        f"{base}/sobjects/Contact/{quiet}", json={"HasOptedOutOfEmail": False}, headers=headers, timeout=5
    )
    assert opted_in.status_code == 204
    created = requests.post(
        f"{base}/sobjects/Lead", json={"LastName": "L", "Company": "C", "DoNotCall": True}, headers=headers, timeout=5
    ).json()["id"]
    requests.post(f"{base}/sobjects/Lead", json={"LastName": "M", "Company": "C"}, headers=headers, timeout=5)
    assert admin(manual, "outbound/flush") == {"messages": 2, "notifications": 2}  # one message per object
    received = receiver.wait_for(2)
    by_type = {item["type"]: item for body in received for item in notifications(body["body"])[1]}
    assert set(by_type) == {"sf:Contact", "sf:Lead"}
    assert by_type["sf:Contact"]["fields"]["HasOptedOutOfEmail"] == "false"
    assert by_type["sf:Lead"]["fields"]["Id"] == created
    actions = {notifications(body["body"])[0]["ActionId"].text for body in received}
    assert len(actions) == 2


def test_at_most_100_notifications_a_message_with_the_latest_data(manual, receiver):
    base, headers = api(manual)
    ids = admin(manual, "seed", {"Contact": [{"LastName": f"C{n}"} for n in range(150)]})["ids"]["Contact"]
    updates = [{"attributes": {"type": "Contact"}, "id": i, "HasOptedOutOfFax": True} for i in ids]
    for chunk in (updates[:100], updates[100:]):
        answer = requests.patch(
            f"{base}/composite/sobjects", json={"allOrNone": True, "records": chunk}, headers=headers, timeout=30
        )
        assert all(r["success"] for r in answer.json())
    requests.patch(f"{base}/sobjects/Contact/{ids[0]}", json={"Email": "later@example.com"}, headers=headers, timeout=5)
    assert admin(manual, "outbound/flush") == {"messages": 2, "notifications": 150}
    received = receiver.wait_for(2)
    sizes = sorted(len(notifications(body["body"])[1]) for body in received)
    assert sizes == [50, 100]
    items = [item for body in received for item in notifications(body["body"])[1]]
    assert len({item["id"] for item in items}) == 150
    first = next(item for item in items if item["fields"]["Id"] == ids[0])
    assert first["fields"]["Email"] == "later@example.com"  # changed after the notification was queued


def test_a_rolled_back_change_sends_nothing(manual):
    base, headers = api(manual)
    [contact] = admin(manual, "seed", {"Contact": [{"LastName": "C"}]})["ids"]["Contact"]
    records = [
        {"attributes": {"type": "Contact"}, "id": contact, "DoNotCall": True},
        {"attributes": {"type": "Contact"}, "id": contact, "LastName": None},
    ]
    requests.patch(
        f"{base}/composite/sobjects", json={"allOrNone": True, "records": records}, headers=headers, timeout=5
    )
    assert admin(manual, "outbound/flush")["notifications"] == 0


def test_the_endpoint_must_be_loopback_and_a_session_id_can_be_sent(target, receiver):
    app, server = start(target, outbound_session_id=True)
    try:
        refused = requests.post(f"{server.url}/_sandbox/outbound", json={"url": "https://example.com/hook"}, timeout=5)
        assert refused.status_code == 400
        assert requests.get(f"{server.url}/_sandbox/outbound", timeout=5).json() == {"url": f"{target.url}/hook"}
        admin(server, "seed", {"Lead": [{"LastName": "L", "Company": "C", "Email": "lead@example.com"}]})
        admin(server, "ui-change", {"email": "lead@example.com", "fields": {"DoNotCall": True}})
        [delivery] = receiver.wait_for(1)
        session = notifications(delivery["body"])[0]["SessionId"].text
        callback = requests.get(
            f"{server.url}/services/data/v60.0/limits", headers={"Authorization": f"Bearer {session}"}, timeout=5
        )
        assert callback.status_code == 200
    finally:
        server.stop()
        app.extensions["salesforce_sandbox"].close()
    with pytest.raises(ValueError, match="loopback"):
        create_app(outbound_url="https://example.com/hook")
