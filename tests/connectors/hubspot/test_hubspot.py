"""HubSpot: the sandbox answers the official client, signatures agree with the official helper both ways, and the
connector passes the conformance suite within HubSpot's budgets."""

import itertools
import json
import time

import pytest
import requests
from flask import Flask, request
from hubspot import HubSpot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert, SimplePublicObjectInputForCreate
from hubspot.utils.signature import Signature

from consentry.connectors.base import ConsentTag, Unsubscribe
from consentry.connectors.conformance import ConnectorConformance
from consentry.connectors.hubspot import HubSpotConnector
from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, create_app
from consentry.connectors.hubspot.webhooks import signature_v1, signature_v2, signature_v3
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.errors import WebhookPayloadError, WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture
def sandbox():
    with ServerThread(create_app()) as server:
        yield server


def seed(sandbox, emails, **extra):
    contacts = [{"email": email, **extra} for email in emails]
    requests.post(f"{sandbox.url}/_sandbox/contacts/seed", json={"contacts": contacts}, timeout=30).raise_for_status()


def opted_out(sandbox, email) -> bool:
    return requests.get(f"{sandbox.url}/_sandbox/opted-out/{email}", timeout=5).json()["opted_out"]


class TestHubSpotConformance(ConnectorConformance):
    connector_name = "hubspot"
    signature_header = "X-HubSpot-Signature-v3"

    def webhook_request(self, connector, *, email, secret=None, timestamp=None):
        body = json.dumps(
            [
                {
                    "eventId": 1,
                    "subscriptionId": 1,
                    "portalId": 62515,
                    "appId": 54321,
                    "occurredAt": 1_780_000_000_000,
                    "subscriptionType": "contact.privacyDeletion",
                    "attemptNumber": 0,
                    "objectId": 1234,
                    "changeSource": "GDPR",
                }
            ]
        ).encode()
        stamp = str(int((timestamp if timestamp is not None else time.time()) * 1000))
        url = "https://consentry.example/webhooks/hubspot"
        signature = signature_v3((secret or DEFAULT_CLIENT_SECRET).encode(), "POST", url, body, stamp)
        return WebhookRequest(
            "POST", url, body, {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
        )

    def test_an_authentic_webhook_gives_opt_out_events(self, connector):
        [event] = connector.receive_webhook(self.webhook_request(connector, email="hook@example.com"))
        assert event.kind.opts_out
        assert event.channel == "all"
        assert event.erasure  # a privacy deletion: the start of an erasure everywhere else
        assert event.record_id == "1234"  # the server finds the person through the contact synced before


def test_the_official_client_works_against_the_sandbox(sandbox):
    client = HubSpot(access_token=DEFAULT_TOKEN, host=sandbox.url)
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "jane@example.com", "firstname": "Jane"})
    )
    assert created.properties["email"] == "jane@example.com"
    fetched = client.crm.contacts.basic_api.get_by_id("jane@example.com", id_property="email", properties=["firstname"])
    assert fetched.properties["firstname"] == "Jane"
    upsert = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[{"id": "john@example.com", "idProperty": "email", "properties": {"firstname": "John"}}]
    )
    result = client.crm.contacts.batch_api.upsert(upsert)
    assert result.results[0].properties["email"] == "john@example.com"
    page = client.crm.contacts.basic_api.get_page(limit=1)
    assert len(page.results) == 1
    assert page.paging.next.after
    everything = client.crm.contacts.get_all()
    assert {c.properties["email"] for c in everything} == {"jane@example.com", "john@example.com"}
    client.crm.contacts.basic_api.archive(created.id)
    assert [c.properties["email"] for c in client.crm.contacts.get_all()] == ["john@example.com"]


def test_hs_email_optout_is_read_only(sandbox):
    seed(sandbox, ["jane@example.com"])
    answer = requests.patch(
        f"{sandbox.url}/crm/v3/objects/contacts/jane@example.com?idProperty=email",
        json={"properties": {"hs_email_optout": "false"}},
        headers=AUTH,
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert set(answer.json()) >= {"status", "message", "correlationId", "category"}


def test_v3_refuses_to_resubscribe_and_v4_needs_a_legal_basis(sandbox):
    seed(sandbox, ["jane@example.com"], opted_out=True)
    v3 = requests.post(
        f"{sandbox.url}/communication-preferences/v3/subscribe",
        json={"emailAddress": "jane@example.com", "subscriptionId": 101},
        headers=AUTH,
        timeout=5,
    )
    assert v3.status_code == 400
    body = {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 101}
    without = requests.post(
        f"{sandbox.url}/communication-preferences/v4/statuses/jane@example.com", json=body, headers=AUTH, timeout=5
    )
    assert without.status_code == 400
    assert opted_out(sandbox, "jane@example.com")
    with_basis = requests.post(
        f"{sandbox.url}/communication-preferences/v4/statuses/jane@example.com",
        json={**body, "legalBasis": "CONSENT_WITH_NOTICE", "legalBasisExplanation": "Form consent of 2026-05-01"},
        headers=AUTH,
        timeout=5,
    )
    assert with_basis.status_code == 200
    assert not opted_out(sandbox, "jane@example.com")


def test_batches_over_100_are_refused_and_partial_failures_are_207(sandbox):
    too_many = [{"properties": {"email": f"p{n}@example.com"}} for n in range(101)]
    assert (
        requests.post(
            f"{sandbox.url}/crm/v3/objects/contacts/batch/create", json={"inputs": too_many}, headers=AUTH, timeout=5
        ).status_code
        == 400
    )
    mixed = [  # partial success needs a trace id on every input, as HubSpot documents
        {"properties": {"email": "ok@example.com"}, "objectWriteTraceId": "t1"},
        {"properties": {"shoe_size": "42"}, "objectWriteTraceId": "t2"},
    ]
    answer = requests.post(
        f"{sandbox.url}/crm/v3/objects/contacts/batch/create", json={"inputs": mixed}, headers=AUTH, timeout=5
    )
    assert answer.status_code == 207
    assert answer.json()["numErrors"] == 1


def test_the_rolling_limit_answers_hubspots_429():
    with ServerThread(create_app(rate_limit=(3, 10.0))) as server:
        statuses = [requests.get(f"{server.url}/crm/v3/objects/contacts", headers=AUTH, timeout=5) for _ in range(4)]
    assert [s.status_code for s in statuses] == [200, 200, 200, 429]
    assert statuses[-1].json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert statuses[0].headers["X-HubSpot-RateLimit-Max"] == "3"


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_signatures_agree_with_the_official_helper_both_ways(version):
    body, url, stamp = '[{"eventId":1}]', "https://consentry.example/webhooks/hubspot?x=1", str(int(time.time() * 1000))
    secret = DEFAULT_CLIENT_SECRET
    ours = {
        "v1": lambda: signature_v1(secret.encode(), body.encode()),
        "v2": lambda: signature_v2(secret.encode(), "POST", url, body.encode()),
        "v3": lambda: signature_v3(secret.encode(), "POST", url, body.encode(), stamp),
    }[version]()
    assert Signature.is_valid(
        signature=ours,
        client_secret=secret,
        request_body=body,
        http_uri=url,
        http_method="POST",
        signature_version=version,
        timestamp=stamp,
    )
    theirs = Signature.get_signature(
        client_secret=secret,
        request_body=body,
        signature_version=version,
        http_uri=url,
        http_method="POST",
        timestamp=stamp,
    )
    connector = HubSpotConnector({"access_token": "t", "client_secret": secret})
    headers = (
        {"X-HubSpot-Signature-v3": theirs, "X-HubSpot-Request-Timestamp": stamp}
        if version == "v3"
        else {"X-HubSpot-Signature": theirs, "X-HubSpot-Signature-Version": version}
    )
    connector.webhook_verifier().verify(WebhookRequest("POST", url, body.encode(), headers))


def test_sandbox_deliveries_validate_with_the_official_helper(sandbox):
    received = []
    receiver = Flask("receiver")

    @receiver.post("/hook")
    def hook():
        received.append((request.get_data(as_text=True), dict(request.headers), request.url))
        return ""

    with ServerThread(receiver) as target:
        requests.put(
            f"{sandbox.url}/webhooks/v3/54321/settings",
            json={"targetUrl": f"{target.url}/hook", "throttling": {"maxConcurrentRequests": 10}},
            headers=AUTH,
            timeout=5,
        )
        requests.post(
            f"{sandbox.url}/webhooks/v3/54321/subscriptions",
            json={"eventType": "contact.propertyChange", "propertyName": "hs_email_optout", "active": True},
            headers=AUTH,
            timeout=5,
        )
        seed(sandbox, [f"p{n}@example.com" for n in range(3)])
        for n in range(3):
            requests.post(
                f"{sandbox.url}/_sandbox/contacts/unsubscribe", json={"email": f"p{n}@example.com"}, timeout=5
            )
        deadline = time.monotonic() + 5
        while sum(len(json.loads(body)) for body, _, _ in received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    body, headers, url = received[0]
    assert Signature.is_valid(
        signature=headers["X-Hubspot-Signature-V3"],
        client_secret=DEFAULT_CLIENT_SECRET,
        request_body=body,
        http_uri=url,
        http_method="POST",
        signature_version="v3",
        timestamp=headers["X-Hubspot-Request-Timestamp"],
    )
    events = [event for body, _, _ in received for event in json.loads(body)]
    assert {e["propertyValue"] for e in events} == {"true"}
    assert len(events) == 3


@pytest.mark.slow
def test_syncing_10000_contacts_stays_within_100_upserts_and_100_consent_calls(sandbox):
    seed(sandbox, [f"bulk{n}@example.com" for n in range(10_000)])
    config = {"access_token": DEFAULT_TOKEN, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": sandbox.url}
    connector = HubSpotConnector(config, sleep=time.sleep)  # the limiter really waits: 190 calls per 10 s
    contacts = list(connector.fetch_contacts())
    assert len(contacts) == 10_000
    before = dict(connector.transport.calls.by_kind)
    tagged = connector.apply_consent([ConsentTag(email=c.email, status={"email": "allowed"}) for c in contacts])
    unsubscribed = connector.push_unsubscribes([Unsubscribe(email=c.email) for c in contacts])
    assert opted_out(sandbox, "bulk9999@example.com")
    sent = {kind: n - before.get(kind, 0) for kind, n in connector.transport.calls.by_kind.items()}
    property_check = sent.get("read property", 0) + sent.get("create property", 0)
    assert tagged.calls == property_check + sent["upsert"]  # every request sent, retries included
    assert unsubscribed.calls == sent["unsubscribe"]
    retried_after_429 = (sent["upsert"] - 100) + (sent["unsubscribe"] - 100)  # 100 batches of 100 each
    assert 0 <= retried_after_429 <= 3  # the limit is tripped transiently at most


def test_incremental_reads_use_search(sandbox, make_connector):
    from datetime import UTC, datetime

    seed(sandbox, ["old@example.com"])
    time.sleep(0.01)
    mark = datetime.now(UTC)
    time.sleep(0.01)
    seed(sandbox, ["new@example.com"])
    connector = make_connector()
    assert [c.email for c in connector.fetch_contacts(since=mark)] == ["new@example.com"]
    assert connector.transport.calls.by_kind == {"search": 1}


@pytest.mark.slow
def test_an_incremental_read_of_more_than_10000_changes_restarts_the_search(sandbox):
    """One search pages through 10,000 results at most (a 400 beyond): the read goes on from the last date seen."""
    from datetime import UTC, datetime

    mark = datetime.now(UTC)
    time.sleep(0.01)
    emails = [f"changed{n}@example.com" for n in range(10_300)]
    for start in range(0, len(emails), 1_500):  # several modification instants
        seed(sandbox, emails[start : start + 1_500])
        time.sleep(0.005)
    connector = HubSpotConnector(  # real sleeps: 52 searches within the search endpoint's own rate limit
        {"access_token": DEFAULT_TOKEN, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": sandbox.url}
    )
    read = [c.email for c in connector.fetch_contacts(since=mark)]
    assert set(read) == set(emails)
    assert set(connector.transport.calls.by_kind) == {"search"}  # no fallback to a full listing


def test_an_expired_oauth_token_is_refreshed_once_inside_the_transport(sandbox):
    seed(sandbox, ["oauth@example.com"])
    connector = HubSpotConnector(
        {
            "access_token": "expired-token",
            "refresh_token": "sandbox-refresh-token",
            "client_id": "app",
            "client_secret": DEFAULT_CLIENT_SECRET,
            "base_url": sandbox.url,
        }
    )
    assert [c.email for c in connector.fetch_contacts()] == ["oauth@example.com"]
    assert connector.transport.credentials.token.startswith("sandbox-access-")


def opt_out_event(n: int, record_id: str, name: str = "hs_email_optout", value: str = "true") -> dict:
    return {
        "eventId": n,
        "subscriptionId": 7,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1_780_000_000_000 + n,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": int(record_id),
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


def opt_out_delivery(record_ids, changes=(("hs_email_optout", "true"),)) -> WebhookRequest:
    events = itertools.product(record_ids, changes)
    return signed_delivery([opt_out_event(n, record_id, *change) for n, (record_id, change) in enumerate(events)])


def signed_delivery(payload, *, stamp: str | None = None) -> WebhookRequest:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() * 1000)) if stamp is None else stamp
    url = "https://consentry.example/webhooks/hubspot"
    signature = signature_v3(DEFAULT_CLIENT_SECRET.encode(), "POST", url, body, stamp)
    return WebhookRequest(
        "POST", url, body, {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    )


def test_a_delivery_asks_hubspot_only_about_contacts_consentry_has_not_synced(make_connector, sandbox):
    seed(sandbox, ["known@example.com", "stranger@example.com"])
    connector = make_connector()
    ids = {contact.email: contact.record_id for contact in connector.fetch_contacts()}
    delivery = opt_out_delivery([ids["known@example.com"], ids["stranger@example.com"]])
    before = connector.transport.calls.by_kind.get("batch read", 0)

    known, stranger = connector.receive_webhook(delivery, known=lambda events: {ids["known@example.com"]})
    assert (known.email, stranger.email) == (None, "stranger@example.com")  # the server finds the known one itself
    assert connector.transport.calls.by_kind["batch read"] == before + 1

    everyone_known = connector.receive_webhook(delivery, known=lambda events: set(ids.values()))
    assert [event.email for event in everyone_known] == [None, None]
    assert connector.transport.calls.by_kind["batch read"] == before + 1  # no call at all

    alone = connector.receive_webhook(delivery)  # used on its own, the connector finds every address
    assert [event.email for event in alone] == ["known@example.com", "stranger@example.com"]


@pytest.mark.parametrize(
    "payload",
    [
        opt_out_event(1, "1001"),
        ["an event"],
        [None],
        [[opt_out_event(1, "1001")]],
        [{**opt_out_event(1, "1001"), "occurredAt": 2**70}],
        [{**opt_out_event(1, "1001"), "occurredAt": True}],
        [{**opt_out_event(1, "1001"), "occurredAt": 1.78e12}],
        [{**opt_out_event(1, "1001"), "occurredAt": -1}],
        [{**opt_out_event(1, "1001"), "objectId": [1001]}],
        [{**opt_out_event(1, "1001"), "objectId": "10o1"}],
        [{**opt_out_event(1, "1001"), "objectId": "\u0661\u0660\u0660\u0661"}],
        [{key: value for key, value in opt_out_event(1, "1001").items() if key != "occurredAt"}],
    ],
    ids=[
        "not an array",
        "a string",
        "null",
        "an array",
        "a time past year 9999",
        "a boolean time",
        "a fractional time",
        "a negative time",
        "an array id",
        "a non-numeric id",
        "an id in Arabic-Indic digits",
        "no time",
    ],
)
def test_an_authentic_delivery_of_the_wrong_shape_is_a_payload_error(make_connector, payload):
    with pytest.raises(WebhookPayloadError) as error:
        make_connector().receive_webhook(signed_delivery(payload), known=lambda events: set())
    assert "hubspot: malformed webhook payload" in str(error.value)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'[{"a":' * 50_000 + b"1" + b"}]" * 50_000],
    ids=["arrays", "objects"],
)
def test_an_authentic_body_nested_too_deeply_for_the_parser_is_a_payload_error(body):
    """json.loads raises RecursionError on it: that was a 500."""
    stamp = str(int(time.time() * 1000))
    url = "https://consentry.example/webhooks/hubspot"
    signature = signature_v3(DEFAULT_CLIENT_SECRET.encode(), "POST", url, body, stamp)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    connector = HubSpotConnector({"access_token": "t", "client_secret": DEFAULT_CLIENT_SECRET})
    with pytest.raises(WebhookPayloadError, match="hubspot: malformed webhook payload"):
        connector.receive_webhook(WebhookRequest("POST", url, body, headers), known=lambda events: set())


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_a_v3_timestamp_that_is_not_a_finite_number_is_refused(stamp):
    """Signed with the right secret: the replay window alone must refuse it (NaN compares false with any bound)."""
    connector = HubSpotConnector({"access_token": "t", "client_secret": DEFAULT_CLIENT_SECRET})
    with pytest.raises(WebhookVerificationError, match="malformed request timestamp"):
        connector.receive_webhook(signed_delivery([opt_out_event(1, "1001")], stamp=stamp))


def test_leaving_a_subscription_type_consentry_manages_is_an_email_opt_out(make_connector):
    connector = make_connector(subscription_ids=[101])
    changes = [
        ("hs_email_optout_101", "true"),  # managed by Consentry: an objection to the prospecting it carries
        ("hs_email_optout_102", "true"),  # another type (service mail, say): not ours to judge
        ("hs_email_optout_101", "false"),  # a subscription is no opt-out
        ("hs_email_optout", "true"),  # out of all email, whatever the configuration
    ]
    events = connector.receive_webhook(opt_out_delivery(["1001"], changes), known=lambda events: {"1001"})
    assert [(e.kind.opts_out, e.channel, e.event_key.split(":")[4]) for e in events] == [
        (True, "email", "hs_email_optout_101"),
        (True, "email", "hs_email_optout"),
    ]
    unmanaged = make_connector().receive_webhook(opt_out_delivery(["1001"], changes), known=lambda events: {"1001"})
    assert [e.event_key.split(":")[4] for e in unmanaged] == ["hs_email_optout"]


def test_a_sync_reads_opt_outs_of_the_managed_subscription_types(make_connector, sandbox):
    seed(sandbox, ["managed@example.com", "other@example.com", "subscribed@example.com"])
    unsubscribe = f"{sandbox.url}/_sandbox/contacts/unsubscribe"
    for email, subscription in (("managed@example.com", 101), ("other@example.com", 102)):
        requests.post(unsubscribe, json={"email": email, "subscriptionId": subscription}, timeout=5).raise_for_status()
    read = {contact.email: contact.opted_out for contact in make_connector(subscription_ids=[101]).fetch_contacts()}
    assert read == {
        "managed@example.com": frozenset({"email"}),
        "other@example.com": frozenset(),
        "subscribed@example.com": frozenset(),
    }
    unmanaged = {contact.email: contact.opted_out for contact in make_connector().fetch_contacts()}
    assert set(unmanaged.values()) == {frozenset()}  # nobody left all email
