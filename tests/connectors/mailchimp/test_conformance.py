"""The Mailchimp connector against its sandbox: the shared conformance suite, and Mailchimp's own rules."""

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import requests

from consentry.connectors.base import ConsentTag, Unsubscribe
from consentry.connectors.conformance import ConnectorConformance
from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID
from consentry.sdk.webhooks import WebhookRequest

SIGNING_SECRET = "mailchimp-signing-secret-0123"


def seed(sandbox, emails, status="subscribed"):
    members = [{"email_address": email, "status": status} for email in emails]
    requests.post(f"{sandbox.url}/_sandbox/lists/{DEFAULT_LIST_ID}/seed", json={"members": members}, timeout=10)


def member(sandbox, email):
    return requests.get(
        f"{sandbox.url}/3.0/lists/{DEFAULT_LIST_ID}/members/{email}",
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        timeout=5,
    ).json()


@pytest.fixture
def connector_defaults():
    return {"webhook_signing_secret": SIGNING_SECRET}


class TestMailchimpConformance(ConnectorConformance):
    connector_name = "mailchimp"
    signature_header = "X-Mailchimp-Signature"

    def webhook_request(self, connector, *, email, secret=None, timestamp=None):
        body = (
            f"type=unsubscribe&fired_at=2026-05-01+10%3A00%3A00&data%5Bid%5D=abc&data%5Blist_id%5D={DEFAULT_LIST_ID}"
            f"&data%5Bemail%5D={email.replace('@', '%40')}"
        ).encode()
        stamp = str(int(timestamp if timestamp is not None else time.time()))
        digest = hmac.new((secret or SIGNING_SECRET).encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return WebhookRequest(
            "POST", "http://127.0.0.1/webhooks/mailchimp", body, {"X-Mailchimp-Signature": f"t={stamp},v1={digest}"}
        )


def test_syncing_10000_contacts_takes_at_most_20_write_calls(sandbox, make_connector):
    seed(sandbox, [f"bulk{n}@example.com" for n in range(10_000)])
    connector = make_connector()
    contacts = list(connector.fetch_contacts())
    assert len(contacts) == 10_000
    reads = connector.transport.calls.total
    tags = [ConsentTag(email=c.email, status={"email": "allowed"}, known=c.attributes) for c in contacts]
    report = connector.apply_consent(tags)
    assert report.failed == []
    assert connector.transport.calls.total - reads <= 20
    assert reads == 10


def test_a_sync_never_subscribes_an_unsubscribed_member(sandbox, make_connector):
    seed(sandbox, ["gone@example.com"], status="unsubscribed")
    connector = make_connector()
    [contact] = connector.fetch_contacts()
    stale = dict(contact.attributes, status="subscribed")  # the sync read it before the person unsubscribed
    connector.apply_consent([ConsentTag(email="gone@example.com", status={"email": "allowed"}, known=stale)])
    assert member(sandbox, "gone@example.com")["status"] == "unsubscribed"


def test_cleaned_members_stay_cleaned_and_unknown_tags_are_not_created(sandbox, make_connector):
    seed(sandbox, ["bounced@example.com"], status="cleaned")
    connector = make_connector()
    report = connector.apply_consent([ConsentTag(email="new@example.com", status={"email": "forbidden"})])
    assert report.not_found == 1
    assert member(sandbox, "new@example.com")["status"] == 404
    connector.push_unsubscribes([Unsubscribe(email="bounced@example.com")])
    assert member(sandbox, "bounced@example.com")["status"] in ("cleaned", "unsubscribed")


def test_incremental_reads_only_return_changed_members(sandbox, make_connector):
    seed(sandbox, ["old@example.com"])
    time.sleep(1.1)
    mark = datetime.now(UTC)
    time.sleep(1.1)
    seed(sandbox, ["new@example.com"])
    fetched = [c.email for c in make_connector().fetch_contacts(since=mark)]
    assert fetched == ["new@example.com"]
