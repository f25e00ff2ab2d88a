"""The common sandbox interface (`consentry.connectors.sandbox_kit.SandboxPackage`) for Salesforce: the settings
that point the connector at this org, its outbound message, and what a user does in Salesforce."""

import secrets

import requests

from consentry.connectors.sandbox_kit import Person

from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID

PREFIX = "CONSENTRY_SALESFORCE_"
NO_LAST_NAME = "Unknown"  # Salesforce requires one on Contacts and Leads


def connector_settings(base_url: str) -> dict[str, str]:
    return {
        f"{PREFIX}LOGIN_URL": base_url,
        f"{PREFIX}CLIENT_ID": DEFAULT_CLIENT_ID,
        f"{PREFIX}CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        f"{PREFIX}ORGANIZATION_ID": DEFAULT_ORG_ID,  # the org its outbound messages carry
        f"{PREFIX}WEBHOOK_TOKEN": secrets.token_urlsafe(24),
    }


def point_webhooks(base_url: str, webhook_url: str, settings: dict[str, str]) -> None:
    """The outbound message of the opt-out fields' workflow rule, to the URL with its token."""
    url = f"{webhook_url}?token={settings[f'{PREFIX}WEBHOOK_TOKEN']}"
    requests.post(f"{base_url}/_sandbox/outbound", json={"url": url}, timeout=10).raise_for_status()


def seed(base_url: str, people: list[Person]) -> None:
    records: dict[str, list[dict]] = {"Contact": [], "Lead": []}
    for person in people:
        record: dict = {"Email": person.email, "LastName": person.last_name or NO_LAST_NAME}
        if person.first_name:
            record["FirstName"] = person.first_name
        if person.opted_out:
            record["HasOptedOutOfEmail"] = True
        if person.company:
            records["Lead"].append({**record, "Company": person.company})
        else:
            records["Contact"].append(record)
    body = {name: entries for name, entries in records.items() if entries}
    requests.post(f"{base_url}/_sandbox/seed", json=body, timeout=60).raise_for_status()


def unsubscribe(base_url: str, email: str) -> None:
    """A user ticks Email Opt Out on every Contact and Lead with this address."""
    requests.post(
        f"{base_url}/_sandbox/ui-change", json={"email": email, "fields": {"HasOptedOutOfEmail": True}}, timeout=10
    ).raise_for_status()


def opted_out(base_url: str, email: str) -> bool:
    mine = _records_of(base_url, email)
    return bool(mine) and all(r["HasOptedOutOfEmail"] for r in mine)


def holds(base_url: str, email: str) -> bool:
    """A Contact or Lead with this address that a query reads: the Recycle Bin's records are not held."""
    return bool(_records_of(base_url, email))


def erase_in_vendor(base_url: str, email: str) -> None:
    """A user opens each Contact and Lead with this address, creates its Individual when it has none, and ticks
    "Forget this Individual": the org's outbound message for Individuals (when set) then reports it."""
    for record in _records_of(base_url, email):
        individual = record.get("IndividualId")
        if not individual:
            seeded = requests.post(
                f"{base_url}/_sandbox/seed",
                json={"Individual": [{"LastName": record.get("LastName") or NO_LAST_NAME}]},
                timeout=10,
            )
            seeded.raise_for_status()
            [individual] = seeded.json()["ids"]["Individual"]
            _edit(base_url, record["Id"], {"IndividualId": individual})
        _edit(base_url, individual, {"ShouldForget": True})


def _edit(base_url: str, record_id: str, fields: dict) -> None:
    answer = requests.post(f"{base_url}/_sandbox/ui-change", json={"id": record_id, "fields": fields}, timeout=10)
    answer.raise_for_status()


def _records_of(base_url: str, email: str) -> list[dict]:
    """The live (not deleted) Contacts and Leads with this address."""
    records = requests.get(f"{base_url}/_sandbox/records", timeout=10).json()["records"]
    return [
        r
        for r in records
        if r["attributes"]["type"] in ("Contact", "Lead") and str(r.get("Email") or "").lower() == email.lower()
    ]
