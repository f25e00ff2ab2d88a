"""The common sandbox interface (`consentry.connectors.sandbox_kit.SandboxPackage`) for HubSpot: the settings that
point the connector at this sandbox, the app's webhook subscriptions, and what a person does in HubSpot."""

import requests

from consentry.connectors.sandbox_kit import Person

from .app import APP_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN

PREFIX = "CONSENTRY_HUBSPOT_"
EVENTS = (
    {"eventType": "contact.propertyChange", "propertyName": "hs_email_optout"},
    {"eventType": "contact.privacyDeletion"},
    {"eventType": "contact.deletion"},  # comes with every privacy deletion: Consentry must ignore it
)


def connector_settings(base_url: str) -> dict[str, str]:
    """HubSpot signs its deliveries with the app's client secret, which the sandbox's app already has."""
    return {
        f"{PREFIX}ACCESS_TOKEN": DEFAULT_TOKEN,
        f"{PREFIX}CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        f"{PREFIX}BASE_URL": base_url,
    }


def point_webhooks(base_url: str, webhook_url: str, settings: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    requests.put(
        f"{base_url}/webhooks/v3/{APP_ID}/settings",
        headers=headers,
        timeout=10,
        json={"targetUrl": webhook_url, "throttling": {"maxConcurrentRequests": 10}},
    ).raise_for_status()
    for event in EVENTS:
        subscription = {**event, "active": True}
        requests.post(
            f"{base_url}/webhooks/v3/{APP_ID}/subscriptions", headers=headers, json=subscription, timeout=10
        ).raise_for_status()


def seed(base_url: str, people: list[Person]) -> None:
    contacts = []
    for person in people:
        contact: dict = {"email": person.email, "opted_out": person.opted_out}
        if person.first_name:
            contact["firstname"] = person.first_name
        if person.last_name:
            contact["lastname"] = person.last_name
        if person.country:
            contact["country"] = person.country
        contacts.append(contact)
    requests.post(f"{base_url}/_sandbox/contacts/seed", json={"contacts": contacts}, timeout=60).raise_for_status()


def unsubscribe(base_url: str, email: str) -> None:
    """The person follows the unsubscribe link of a marketing email: unsubscribed from all email."""
    requests.post(f"{base_url}/_sandbox/contacts/unsubscribe", json={"email": email}, timeout=10).raise_for_status()


def opted_out(base_url: str, email: str) -> bool:
    return bool(requests.get(f"{base_url}/_sandbox/opted-out/{email}", timeout=10).json()["opted_out"])


def holds(base_url: str, email: str) -> bool:
    answer = requests.post(f"{base_url}/_sandbox/contacts/holds", json={"email": email}, timeout=10)
    answer.raise_for_status()
    return bool(answer.json()["holds"])


def erase_in_vendor(base_url: str, email: str) -> None:
    """A user permanently deletes the contact from its record: HubSpot sends a privacy deletion and a deletion."""
    requests.post(f"{base_url}/_sandbox/contacts/gdpr-delete", json={"email": email}, timeout=10).raise_for_status()
