"""Mailchimp webhook verification and parsing on bodies captured from Mailchimp (see vendors/CONTRACTS.md §2.7)."""

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from consentry.connectors.mailchimp.connector import MailchimpConnector, subscriber_hash
from consentry.sdk.consent_state import EventKind
from consentry.sdk.errors import WebhookPayloadError, WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest

NOW = 1_800_000_000.0
SECRET = "whsec-test-0123456789"

# The unsubscribe delivery captured in snowplow/enrich's MailchimpAdapterSpec (community capture).
UNSUBSCRIBE = (
    b"type=unsubscribe&fired_at=2014-10-22+13%3A10%3A40&data%5Baction%5D=unsub&data%5Breason%5D=manual"
    b"&data%5Bid%5D=94826aa750&data%5Bemail%5D=josh%40snowplowanalytics.com&data%5Bemail_type%5D=html"
    b"&data%5Bip_opt%5D=82.225.169.220&data%5Bweb_id%5D=203740265&data%5Bmerges%5D%5BEMAIL%5D="
    b"josh%40snowplowanalytics.com&data%5Bmerges%5D%5BFNAME%5D=Joshua&data%5Bmerges%5D%5BLNAME%5D=Beemster"
    b"&data%5Blist_id%5D=f1243a3b12"
)
UPEMAIL = (
    b"type=upemail&fired_at=2017-04-23+08%3A08%3A31&data%5Bnew_id%5D=50696b797a&data%5Bnew_email%5D=new%40example.com"
    b"&data%5Bold_email%5D=old%40example.com&data%5Blist_id%5D=93ab23d636"
)
CLEANED_ABUSE = (
    b"type=cleaned&fired_at=2026-01-02+10%3A00%3A00&data%5Blist_id%5D=f1243a3b12&data%5Breason%5D=abuse"
    b"&data%5Bemail%5D=a%40example.com"
)


def connector(**config) -> MailchimpConnector:
    settings = {"api_key": "0123456789abcdef-us6", "list_id": "f1243a3b12", "webhook_signing_secret": SECRET}
    return MailchimpConnector({**settings, **config}, clock=lambda: NOW)


def signed(body: bytes, *, secret: str = SECRET, timestamp: float = NOW, stamp: str | None = None) -> WebhookRequest:
    stamp = str(int(timestamp)) if stamp is None else stamp
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Mailchimp-Signature": f"t={stamp},v1={signature}",
    }
    return WebhookRequest("POST", "https://consentry.example/webhooks/mailchimp", body, headers)


def test_the_captured_unsubscribe_becomes_one_withdrawal():
    [event] = connector().receive_webhook(signed(UNSUBSCRIBE))
    assert event.kind is EventKind.WITHDRAWN
    assert event.channel == "email"
    assert event.email == "josh@snowplowanalytics.com"
    assert event.occurred_at == datetime(2014, 10, 22, 13, 10, 40, tzinfo=UTC)
    assert event.event_key == "mailchimp:f1243a3b12:unsubscribe:94826aa750:2014-10-22 13:10:40"


def test_an_email_change_is_not_a_consent_event():
    assert connector(list_id="93ab23d636").receive_webhook(signed(UPEMAIL)) == []


@pytest.mark.parametrize(
    "body",
    [
        UNSUBSCRIBE.replace(b"data%5Blist_id%5D=f1243a3b12", b"data%5Blist_id%5D=0a0a0a0a0a"),
        UNSUBSCRIBE.replace(b"&data%5Blist_id%5D=f1243a3b12", b""),
        UNSUBSCRIBE.replace(b"data%5Blist_id%5D=f1243a3b12", b"data%5Blist_id%5D="),
        UNSUBSCRIBE.replace(b"data%5Blist_id%5D=f1243a3b12", b"data%5Blist_id%5D=F1243A3B12"),
        UPEMAIL,
    ],
    ids=["another audience", "no audience", "an empty audience", "another case", "an ignored type elsewhere"],
)
def test_a_delivery_for_another_audience_or_none_is_a_payload_error(body):
    """Authentic (signed with the secret), but not for the configured list: it was stored as this audience's."""
    with pytest.raises(WebhookPayloadError) as error:
        connector().receive_webhook(signed(body))
    assert str(error.value) == "mailchimp: the delivery is not for the configured audience (list_id)"


def test_an_abuse_report_is_an_objection():
    [event] = connector().receive_webhook(signed(CLEANED_ABUSE))
    assert event.kind is EventKind.OBJECTED
    assert event.record_id == subscriber_hash("a@example.com")


@pytest.mark.parametrize(
    "request_",
    [
        signed(UNSUBSCRIBE, secret="wrong-secret-0123456"),
        signed(UNSUBSCRIBE, timestamp=NOW - 301),
        signed(UNSUBSCRIBE, timestamp=NOW + 301),
        WebhookRequest("POST", "https://x", UNSUBSCRIBE, {}),
        WebhookRequest("POST", "https://x", UNSUBSCRIBE, {"X-Mailchimp-Signature": "v1=abc"}),
        WebhookRequest("POST", "https://x", UNSUBSCRIBE, {"X-Mailchimp-Signature": "t=soon,v1=abc"}),
    ],
    ids=["wrong secret", "stale", "future", "missing", "no timestamp", "bad timestamp"],
)
def test_forged_requests_are_rejected(request_):
    with pytest.raises(WebhookVerificationError) as error:
        connector().receive_webhook(request_)
    assert "@" not in str(error.value)


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_a_signature_timestamp_that_is_not_a_finite_number_is_refused(stamp):
    """Signed with the right secret: the replay window alone must refuse it (NaN compares false with any bound)."""
    with pytest.raises(WebhookVerificationError, match="malformed signature timestamp"):
        connector().receive_webhook(signed(UNSUBSCRIBE, stamp=stamp))


def test_without_signing_a_url_token_is_required():
    unsigned = connector(webhook_signing_secret=None, webhook_url_token="url-token-0123456789")
    good = WebhookRequest("POST", "https://x", UNSUBSCRIBE, {}, {"token": "url-token-0123456789"})
    assert len(unsigned.receive_webhook(good)) == 1
    with pytest.raises(WebhookVerificationError):
        unsigned.receive_webhook(WebhookRequest("POST", "https://x", UNSUBSCRIBE, {}, {"token": "guess"}))


def test_the_validation_get_is_answered():
    answer = connector().webhook_validation(WebhookRequest("GET", "https://x", b"", {}))
    assert answer.status == 200
