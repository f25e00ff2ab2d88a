"""The calls a HubSpot write reports are the API requests the sandbox received while it ran: the status property's
check and creation, every batch (upserts, v4 writes, unsubscribe-all), the look-ups of an erasure, its deletes and
every retry, counted by the transports, never by hand."""

import pytest
import requests

from consentry.connectors.base import ConsentTag, DataSubject, Unsubscribe
from consentry.connectors.hubspot.sandbox import create_app
from consentry.connectors.sandbox_kit import set_faults
from tests.received import Received


@pytest.fixture
def sandbox_app():
    """The sandbox wrapped in `Received`: served as `sandbox`, recorded as `received` (tests/connectors/conftest)."""
    app = create_app()
    app.wsgi_app = Received(app.wsgi_app)
    return app


def seed(sandbox, emails: list[str]) -> None:
    contacts = [{"email": email} for email in emails]
    requests.post(f"{sandbox.url}/_sandbox/contacts/seed", json={"contacts": contacts}, timeout=30).raise_for_status()


def api_requests(sent: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The API requests among `sent`: no admin request may have reached the sandbox meanwhile, and an OAuth token
    request (none with a private app's token) would be no API request."""
    assert not any(path.startswith("/_sandbox/") for _, path in sent)
    return [(method, path) for method, path in sent if not path.startswith("/oauth/")]


def emails(count: int) -> list[str]:
    return [f"p{n}@example.com" for n in range(count)]


def test_apply_consent_counts_the_status_property_batches_v4_writes_and_retries(sandbox, received, make_connector):
    """The first run checks (404) and creates the status property; 150 tags are two upserts, the proven ones v4
    writes; a 503 and its retry are two requests. A later run skips the property."""
    seed(sandbox, emails(150))
    connector = make_connector(subscription_ids=[101, 102])
    tags = [ConsentTag(email=email, status={"email": "allowed"}) for email in emails(150)]
    tags += [
        ConsentTag(email=email, status={"email": "allowed"}, legal_basis="consent", known={"resubscribe": True})
        for email in emails(60)
    ]
    mark = len(received.requests)
    report = connector.apply_consent(tags)
    sent = api_requests(received.since(mark))
    assert report.failed == []
    assert ("GET", "/crm/v3/properties/contacts/consentry_status") in sent
    assert sum(1 for _, path in sent if path.endswith("/batch/write")) == 2  # 120 inputs, 100 a call
    assert report.calls == len(sent)
    set_faults(sandbox.url, fail_next=1, fail_status=503)
    mark = len(received.requests)
    again = connector.apply_consent(tags[:3])
    sent = api_requests(received.since(mark))
    assert sent == [("POST", "/crm/v3/objects/contacts/batch/upsert")] * 2  # the 503, then its retry
    assert again.calls == len(sent)


@pytest.mark.parametrize("subscription_ids", [[], [101]], ids=["unsubscribe-all", "v4 write"])
def test_push_unsubscribes_counts_every_batch_and_retry(sandbox, received, make_connector, subscription_ids):
    seed(sandbox, emails(120))
    connector = make_connector(subscription_ids=subscription_ids)
    set_faults(sandbox.url, fail_next=1, fail_status=503)
    mark = len(received.requests)
    report = connector.push_unsubscribes([Unsubscribe(email=email) for email in emails(120)])
    sent = api_requests(received.since(mark))
    assert report.failed == []
    assert len(sent) == 3  # two batches, the first one twice
    assert report.calls == len(sent)
    mark = len(received.requests)
    nothing = connector.push_unsubscribes([Unsubscribe(email="x@example.com", channels=frozenset({"sms"}))])
    assert nothing.calls == len(api_requests(received.since(mark))) == 0


def test_erase_person_counts_its_look_ups_deletes_and_retries(sandbox, received, make_connector):
    """By address and by a synced record id: two look-ups, the first one retried after a 503, then a GDPR delete
    per contact."""
    seed(sandbox, ["jane@example.com", "jane.old@example.com"])
    connector = make_connector()
    ids = {contact.email: contact.record_id for contact in connector.fetch_contacts()}
    subject = DataSubject(email="jane@example.com", record_ids=(ids["jane.old@example.com"],))
    set_faults(sandbox.url, fail_next=1, fail_status=503)  # an admin request, before the mark's window
    mark = len(received.requests)
    report = connector.erase_person(subject)
    sent = api_requests(received.since(mark))
    assert sorted(report.deleted) == sorted(ids.values())
    assert len(sent) == 2 + 2 + 1
    assert report.calls == len(sent)
