"""Each connector against its real sandbox, with answers spoilt on the way back: every failure is a ConnectorError.

A proxy's page, a truncated body or a field of another type must not escape as a KeyError or a JSONDecodeError:
the worker records a ConnectorError on the job and retries it, the sync reports it. The spoilt answers are drawn
from fixed seeds (the same cases on every run), so that a failure can be replayed.
"""

import json
import random
from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
import requests

from consentry.connectors.base import ConsentTag, Unsubscribe
from consentry.connectors.hubspot import HubSpotConnector
from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN
from consentry.connectors.mailchimp import MailchimpConnector
from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY
from consentry.connectors.salesforce import SalesforceConnector
from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_ORG_ID
from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_SECRET as SALESFORCE_SECRET
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.errors import ConnectorError

ODD_VALUES = [None, "", 0, -1, 1.5, True, [], {}, "x", [1], {"a": 1}, "2026-13-45", 10**20]
EMAILS = [f"spoilt{number}@example.com" for number in range(12)]
SEEDS = range(12)


def spoilt(body: bytes, draw: random.Random) -> bytes:
    """The answer as a proxy or a vendor bug might give it: not JSON, cut short, or one value changed."""
    roll = draw.random()
    if roll < 0.15:
        return b"<html><body>Sign in to continue</body></html>"
    if roll < 0.25:
        return body[: len(body) // 2]
    try:
        return json.dumps(_changed(json.loads(body), draw)).encode()
    except ValueError:
        return body


def _changed(value, draw: random.Random, depth: int = 0):
    if depth > 6 or not isinstance(value, dict | list) or not value or draw.random() < 0.25:
        return draw.choice(ODD_VALUES)
    if isinstance(value, list):
        position = draw.randrange(len(value))
        return [*value[:position], _changed(value[position], draw, depth + 1), *value[position + 1 :]]
    key = draw.choice(list(value))
    if draw.random() < 0.3:
        return {name: item for name, item in value.items() if name != key}
    return {**value, key: _changed(value[key], draw, depth + 1)}


def spoiling(session: requests.Session, draw: random.Random, share: float = 0.3) -> None:
    """Spoil a share of the successful answers this session receives (the vendor has acted on the request)."""
    send = session.send

    def send_and_spoil(prepared, **options):
        response = send(prepared, **options)
        if 200 <= response.status_code < 300 and draw.random() < share:
            response._content = spoilt(response.content, draw)
        return response

    session.send = send_and_spoil


def seed_hubspot(url: str) -> None:
    contacts = [{"email": email} for email in EMAILS]
    requests.post(f"{url}/_sandbox/contacts/seed", json={"contacts": contacts}, timeout=30).raise_for_status()


def seed_mailchimp(url: str) -> None:
    members = [{"email_address": email, "status": "subscribed"} for email in EMAILS]
    requests.post(f"{url}/_sandbox/lists/a1b2c3d4e5/seed", json={"members": members}, timeout=30).raise_for_status()


def seed_salesforce(url: str) -> None:
    records = [{"Email": email, "LastName": "Spoilt"} for email in EMAILS]
    requests.post(f"{url}/_sandbox/seed", json={"Contact": records}, timeout=30).raise_for_status()


CONNECTORS = {
    "hubspot": (
        seed_hubspot,
        lambda url: HubSpotConnector(
            {"access_token": DEFAULT_TOKEN, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": url}, sleep=_no_wait
        ),
    ),
    "mailchimp": (
        seed_mailchimp,
        lambda url: MailchimpConnector(
            {"api_key": DEFAULT_API_KEY, "list_id": "a1b2c3d4e5", "base_url": url}, sleep=_no_wait
        ),
    ),
    "salesforce": (
        seed_salesforce,
        lambda url: SalesforceConnector(
            {
                "login_url": url,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": SALESFORCE_SECRET,
                "organization_id": DEFAULT_ORG_ID,
                "objects": ["Contact"],
            },
            sleep=_no_wait,
        ),
    ),
}


def _no_wait(_seconds: float) -> None:
    return None


def operations(connector, contacts):
    """What the sync and the worker ask of a connector; the tags are built as the sync builds them."""
    tags = [
        ConsentTag(
            email=contact.email,
            record_id=contact.record_id,
            status={"email": "forbidden"},
            known={"status": contact.attributes.get("object") or contact.attributes.get("status")},
        )
        for contact in contacts[:3]
    ]
    since = datetime.now(UTC) - timedelta(days=1)
    return {
        "read every contact": lambda: list(connector.fetch_contacts()),
        "read changes": lambda: list(connector.fetch_contacts(since)),
        "write tags": lambda: connector.apply_consent(tags),
        "push unsubscribes": lambda: connector.push_unsubscribes([Unsubscribe(email=email) for email in EMAILS[3:6]]),
    }


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_every_failure_on_a_spoilt_answer_is_a_connector_error(name):
    seed, make = CONNECTORS[name]
    with ServerThread(import_module(f"consentry.connectors.{name}.sandbox").create_app()) as sandbox:
        seed(sandbox.url)
        contacts = list(make(sandbox.url).fetch_contacts())
        failures = []
        for number in SEEDS:
            connector = make(sandbox.url)
            spoiling(connector.transport.session, random.Random(number))
            for operation, call in operations(connector, contacts).items():
                try:
                    call()
                except Exception as error:  # sorted out below
                    failures.append((f"seed {number}, {operation}", error))
    assert [(case, type(e).__name__) for case, e in failures if not isinstance(e, ConnectorError)] == []
    assert [case for case, error in failures if not error.retryable or "@" in str(error)] == []
    assert "UNEXPECTED_RESPONSE" in {error.code for _, error in failures}  # spoilt answers were read
