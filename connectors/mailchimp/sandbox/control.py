"""The common sandbox interface (`consentry.connectors.sandbox_kit.SandboxPackage`) for Mailchimp: the settings
that point the connector at this sandbox, its list webhook, what a member or an admin does in Mailchimp, and what
the API can still read of a person."""

import secrets

import requests

from consentry.connectors.sandbox_kit import Person

from .app import DEFAULT_API_KEY, DEFAULT_LIST_ID

PREFIX = "CONSENTRY_MAILCHIMP_"
_AUTH = ("consentry", DEFAULT_API_KEY)


def connector_settings(base_url: str) -> dict[str, str]:
    return {
        f"{PREFIX}API_KEY": DEFAULT_API_KEY,
        f"{PREFIX}LIST_ID": DEFAULT_LIST_ID,
        f"{PREFIX}BASE_URL": base_url,
        f"{PREFIX}WEBHOOK_URL_TOKEN": secrets.token_urlsafe(24),
    }


def point_webhooks(base_url: str, webhook_url: str, settings: dict[str, str]) -> None:
    """Mailchimp signs nothing by default: the receiver knows its deliveries by a secret token in the URL."""
    requests.post(
        f"{base_url}/3.0/lists/{DEFAULT_LIST_ID}/webhooks",
        auth=_AUTH,
        json={
            "url": f"{webhook_url}?token={settings[f'{PREFIX}WEBHOOK_URL_TOKEN']}",
            "events": {"unsubscribe": True, "cleaned": True, "subscribe": False},
            "sources": {"user": True, "admin": True, "api": True},
        },
        timeout=10,
    ).raise_for_status()


def seed(base_url: str, people: list[Person]) -> None:
    members = [
        {"email_address": person.email, "status": "unsubscribed" if person.opted_out else "subscribed"}
        for person in people
    ]
    requests.post(
        f"{base_url}/_sandbox/lists/{DEFAULT_LIST_ID}/seed", json={"members": members}, timeout=60
    ).raise_for_status()


def unsubscribe(base_url: str, email: str) -> None:
    """The member follows the unsubscribe link of a campaign."""
    requests.post(
        f"{base_url}/_sandbox/lists/{DEFAULT_LIST_ID}/members/{email}/status",
        json={"status": "unsubscribed", "source": "user"},
        timeout=10,
    ).raise_for_status()


def opted_out(base_url: str, email: str) -> bool:
    member = requests.get(f"{base_url}/3.0/lists/{DEFAULT_LIST_ID}/members/{email}", auth=_AUTH, timeout=10).json()
    return member.get("status") in ("unsubscribed", "cleaned")


def holds(base_url: str, email: str) -> bool:
    """Whether any audience still has the member readable (an archived one is; a permanently deleted one is not)."""
    lists = requests.get(f"{base_url}/3.0/lists", auth=_AUTH, timeout=10)
    lists.raise_for_status()
    for item in lists.json()["lists"]:
        answer = requests.get(f"{base_url}/3.0/lists/{item['id']}/members/{email}", auth=_AUTH, timeout=10)
        if answer.status_code != 404:
            answer.raise_for_status()
            return True
    return False


def erase_in_vendor(base_url: str, email: str) -> None:
    """A user permanently deletes the contact in Mailchimp, in every audience: Mailchimp sends no webhook for it."""
    requests.post(f"{base_url}/_sandbox/erase", json={"email_address": email}, timeout=10).raise_for_status()
