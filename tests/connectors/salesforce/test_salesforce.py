"""Salesforce: the sandbox answers simple-salesforce, OAuth works both ways, and the connector passes the
conformance suite within its API budget; outbound messages are parsed safely."""

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, request
from simple_salesforce import Salesforce

from consentry.connectors.base import ConsentTag, Unsubscribe
from consentry.connectors.conformance import ConnectorConformance
from consentry.connectors.salesforce import SalesforceConnector, outbound
from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.errors import ConnectorError, QuotaExhaustedError, WebhookPayloadError, WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest


@pytest.fixture(scope="module")
def key_pair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@pytest.fixture
def sandbox(key_pair):
    with ServerThread(create_app(public_key_pem=key_pair[1], page_size=5)) as server:
        yield server


def seed(sandbox, emails, object_type="Contact", **fields):
    records = [{"Email": email, "LastName": "Test", **fields} for email in emails]
    requests.post(f"{sandbox.url}/_sandbox/seed", json={object_type: records}, timeout=60).raise_for_status()


def record_of(sandbox, email):
    records = requests.get(f"{sandbox.url}/_sandbox/records", timeout=10).json()["records"]
    return next(r for r in records if r["Email"] == email)


class TestSalesforceConformance(ConnectorConformance):
    connector_name = "salesforce"
    signature_header = ""

    def webhook_request(self, connector, *, email, secret=None, timestamp=None):
        body = outbound.envelope(
            secret or DEFAULT_ORG_ID,
            "04k000000000001",
            [("04l000000000001", "Contact", {"Id": "0035g0000000001AAA", "Email": email, "HasOptedOutOfEmail": True})],
        )
        query = {"token": connector.config["webhook_token"]}
        return WebhookRequest("POST", "https://consentry.example/webhooks/salesforce", body, {}, query)


class PlainHttpForLoopback(requests.adapters.HTTPAdapter):
    def send(self, request, **options):
        request.url = request.url.replace("https://", "http://", 1)
        return super().send(request, **options)


def test_simple_salesforce_queries_writes_and_runs_bulk_jobs(sandbox):
    token = requests.post(f"{sandbox.url}/_sandbox/token", timeout=5).json()["access_token"]
    session = requests.Session()
    session.mount("https://127.0.0.1", PlainHttpForLoopback())  # simple-salesforce always builds https URLs
    sf = Salesforce(instance_url=sandbox.url, session_id=token, version="60.0", session=session)
    created = sf.Contact.create({"LastName": "Doe", "Email": "jane@example.com"})
    assert created["success"]
    sf.Contact.update(created["id"], {"DoNotCall": True})
    assert sf.Contact.get(created["id"])["DoNotCall"] is True
    seed(sandbox, [f"p{n}@example.com" for n in range(12)])
    everything = sf.query_all("SELECT Id, Email FROM Contact")
    assert everything["totalSize"] == 13
    assert len(everything["records"]) == 13
    upserted = sf.Contact.upsert("Consentry_Key__c/key-1", {"LastName": "Key"})
    assert upserted == 201
    results = sf.bulk2.Contact.insert(records=[{"LastName": "Bulk", "Email": f"b{n}@example.com"} for n in range(3)])
    assert results[0]["numberRecordsProcessed"] == 3
    sf.Contact.delete(created["id"])
    assert sf.query("SELECT Id FROM Contact WHERE Email = 'jane@example.com'")["totalSize"] == 0


def test_jwt_bearer_flow_and_a_forged_assertion(sandbox, key_pair):
    claims = {
        "iss": DEFAULT_CLIENT_ID,
        "sub": "api@consentry.example",
        "aud": sandbox.url,
        "exp": int(time.time()) + 60,
    }
    good = jwt.encode(claims, key_pair[0], algorithm="RS256")
    answer = requests.post(
        f"{sandbox.url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": good},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["instance_url"] == sandbox.url
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256")
    refused = requests.post(
        f"{sandbox.url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": forged},
        timeout=5,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_the_connector_logs_in_with_jwt_and_refreshes_an_expired_session(sandbox, make_connector, key_pair):
    seed(sandbox, ["a@example.com"])
    connector = make_connector(auth="jwt", username="api@consentry.example", private_key=key_pair[0])
    assert len(list(connector.fetch_contacts())) == 1
    requests.post(f"{sandbox.url}/_sandbox/expire-tokens", timeout=5)
    assert len(list(connector.fetch_contacts())) == 1


def test_collections_over_200_and_malformed_soql_are_refused(sandbox):
    token = requests.post(f"{sandbox.url}/_sandbox/token", timeout=5).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    too_many = {"records": [{"attributes": {"type": "Contact"}, "LastName": "x"}] * 201}
    answer = requests.post(
        f"{sandbox.url}/services/data/v60.0/composite/sobjects", json=too_many, headers=headers, timeout=5
    )
    assert answer.status_code == 400
    assert isinstance(answer.json(), list)
    bad = requests.get(
        f"{sandbox.url}/services/data/v60.0/query", params={"q": "SELEC Id FROM"}, headers=headers, timeout=5
    )
    assert bad.json()[0]["errorCode"] == "MALFORMED_QUERY"
    assert bad.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_the_daily_limit_and_the_reserve(key_pair):
    with ServerThread(create_app(daily_limit=3)) as server:
        token = requests.post(f"{server.url}/_sandbox/token", timeout=5).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        answers = [
            requests.get(f"{server.url}/services/data/v60.0/limits", headers=headers, timeout=5) for _ in range(4)
        ]
        assert answers[-1].status_code == 403
        assert answers[-1].json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    with ServerThread(create_app(daily_limit=1000)) as server:
        connector = SalesforceConnector(
            {
                "login_url": server.url,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "daily_reserve": 999,
                "objects": ["Contact"],
            }
        )
        list(connector.fetch_contacts())
        assert connector.transport.quota == {"used": 1, "max": 1000}
        with pytest.raises(QuotaExhaustedError) as error:
            list(connector.fetch_contacts())
        assert "reserve" in str(error.value)


def test_syncing_10000_contacts_takes_one_bulk_job(sandbox, make_connector):
    seed(sandbox, [f"bulk{n}@example.com" for n in range(10_000)])
    with ServerThread(create_app(page_size=2000)) as fast:
        seed(fast, [f"bulk{n}@example.com" for n in range(10_000)])
        connector = make_connector(login_url=fast.url)
        contacts = list(connector.fetch_contacts())
        assert len(contacts) == 10_000
        report = connector.apply_consent(
            [
                ConsentTag(email=c.email, status={"email": "allowed"}, record_id=c.record_id, known=c.attributes)
                for c in contacts
            ]
        )
        assert report.applied == 10_000
        writes = {k: v for k, v in connector.transport.calls.by_kind.items() if k.startswith("bulk")}
        assert writes["bulk create"] == 1
        assert report.calls == 3 + writes["bulk poll"]  # create, upload, close and each poll: one Bulk API job
        spent = requests.get(f"{fast.url}/_sandbox/calls", timeout=5).json()["used"]
        assert spent == connector.transport.calls.total


def test_unsubscribe_sets_the_fields_for_each_channel(sandbox, make_connector):
    seed(sandbox, ["jane@example.com"])
    connector = make_connector()
    report = connector.push_unsubscribes([Unsubscribe(email="Jane@Example.com", channels=frozenset({"email", "sms"}))])
    assert report.applied == 1
    record = record_of(sandbox, "jane@example.com")
    assert record["HasOptedOutOfEmail"] is True
    assert record["DoNotCall"] is True
    assert record["HasOptedOutOfFax"] is False


TOKEN = "salesforce-url-token-0123456789"


def webhook_connector(**settings) -> SalesforceConnector:
    settings = {"client_id": "x", "organization_id": DEFAULT_ORG_ID, "webhook_token": TOKEN, **settings}
    return SalesforceConnector(settings)


def delivered(body: bytes, token: str | None = TOKEN) -> WebhookRequest:
    query = {} if token is None else {"token": token}
    return WebhookRequest("POST", "https://consentry.example/webhooks/salesforce", body, {}, query)


def test_outbound_messages_are_retried_until_acknowledged(sandbox):
    bodies, answers = [], ["", outbound.ACK]
    receiver = Flask("receiver")

    @receiver.post("/hook")
    def hook():
        bodies.append(request.get_data())
        return answers.pop(0) if answers else outbound.ACK

    with ServerThread(receiver) as target:
        requests.post(f"{sandbox.url}/_sandbox/outbound", json={"url": f"{target.url}/hook"}, timeout=5)
        seed(sandbox, ["jane@example.com"])
        requests.post(
            f"{sandbox.url}/_sandbox/ui-change",
            json={"email": "jane@example.com", "fields": {"HasOptedOutOfEmail": True}},
            timeout=5,
        )
        deadline = time.monotonic() + 10
        while len(bodies) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(bodies) == 2
    organization, [(notification_id, object_type, fields)] = outbound.parse(bodies[1])
    assert organization == DEFAULT_ORG_ID
    assert object_type == "Contact"
    assert fields["HasOptedOutOfEmail"] == "true"
    [event] = webhook_connector().receive_webhook(delivered(bodies[1]))
    assert event.email == "jane@example.com"
    assert event.event_key == f"salesforce:{notification_id}:HasOptedOutOfEmail"
    assert outbound.acknowledged(webhook_connector().webhook_answer([event]).body)


HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b"<x>&lol2;</x></soapenv:Body></soapenv:Envelope>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b"<x>&xxe;</x></soapenv:Body></soapenv:Envelope>",
    b"<not-xml",
]


@pytest.mark.parametrize("body", HOSTILE, ids=["billion laughs", "external entity", "malformed"])
def test_hostile_xml_is_refused_without_effect(body):
    with pytest.raises(WebhookVerificationError, match="not a well-formed outbound message"):
        webhook_connector().receive_webhook(delivered(body))  # with the right token: the XML itself is refused


def test_a_message_from_another_org_or_without_the_url_token_is_refused():
    body = outbound.envelope("00DOTHERORG0000", "04k", [("04l1", "Contact", {"Id": "003", "HasOptedOutOfEmail": True})])
    with pytest.raises(WebhookVerificationError, match="another organisation"):
        webhook_connector().receive_webhook(delivered(body))
    other = webhook_connector(organization_id="00DOTHERORG0000")
    for token in ("guess", "", None):
        with pytest.raises(WebhookVerificationError, match="wrong or missing URL token"):
            other.receive_webhook(delivered(body, token))
    assert other.receive_webhook(delivered(body))


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_the_outbound_message_verifier_is_not_built_without_its_url_token(token):
    """The organisation id alone is public (every Web-to-Lead form carries it): it authenticates nothing."""
    connector = SalesforceConnector({"client_id": "x", "organization_id": DEFAULT_ORG_ID, "webhook_token": token})
    with pytest.raises(WebhookVerificationError, match="salesforce: set a webhook URL token"):
        connector.webhook_verifier()
    body = outbound.envelope(DEFAULT_ORG_ID, "04k", [("04l1", "Contact", {"Id": "003", "HasOptedOutOfEmail": True})])
    with pytest.raises(WebhookVerificationError):
        connector.receive_webhook(delivered(body, None))


def opt_out_notification(n: int) -> tuple[str, str, dict]:
    return (f"04l{n:015d}", "Contact", {"Id": f"003{n:015d}", "Email": f"p{n}@example.com", "HasOptedOutOfEmail": True})


def test_more_than_100_notifications_in_one_message_is_a_payload_error_not_a_forgery():
    """Salesforce sends at most 100: more is an authentic message of the wrong shape (a 400), it was a 401."""
    full = outbound.envelope(DEFAULT_ORG_ID, "04k", [opt_out_notification(n) for n in range(100)])
    assert len(webhook_connector().receive_webhook(delivered(full))) == 100
    over = outbound.envelope(DEFAULT_ORG_ID, "04k", [opt_out_notification(n) for n in range(101)])
    with pytest.raises(WebhookPayloadError, match="salesforce: malformed webhook payload"):
        webhook_connector().receive_webhook(delivered(over))


def test_connector_errors_name_no_address(sandbox, make_connector):
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": 50, "fail_status": 500}, timeout=5)
    with pytest.raises(ConnectorError) as error:
        make_connector().push_unsubscribes([Unsubscribe(email="secret.person@example.com")])
    assert "@" not in str(error.value)
