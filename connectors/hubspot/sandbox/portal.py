"""One HubSpot account's CRM records: contacts and the contact property definitions, kept in a StateFile.

Flask-free: the rules (unique lower-case email, unknown and read-only properties refused, enumeration options,
string values, millisecond timestamps that only move forward, property history) are plain methods, and every change
is announced through `emit` so the webhook outbox can notify subscribers. Callers hold `state.lock`.
"""

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from time import time
from typing import Any

from consentry.connectors.sandbox_kit import StateFile

from .errors import HubSpotError, property_problem

DEFAULT_VIEW = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
COMPUTED = ("createdate", "lastmodifieddate", "hs_object_id")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LEGAL_BASIS_OPTIONS = (
    "Legitimate interest – prospect/lead",
    "Legitimate interest – existing customer",
    "Legitimate interest - other",
    "Performance of a contract",
    "Freely given consent from contact",
    "Not applicable",
)
LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
SUBSCRIPTION_DEFINITIONS = (
    {"id": "101", "name": "Marketing Information", "description": "Marketing offers and updates.", "default": True},
    {"id": "102", "name": "Newsletter", "description": "The monthly newsletter.", "default": False},
)
Source = tuple[str, str | None]  # (changeSource, sourceId)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_ms(value: str) -> int | None:
    """A HubSpot datetime value (epoch milliseconds or ISO 8601) in milliseconds."""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


def _options(values: Iterable[tuple[str, str]]) -> list[dict]:
    return [
        {"label": label, "value": value, "displayOrder": order, "hidden": False, "description": ""}
        for order, (label, value) in enumerate(values)
    ]


def definition(
    name: str,
    label: str,
    kind: str = "string",
    field: str = "text",
    *,
    read_only: bool = False,
    unique: bool = False,
    options: list[dict] | None = None,
    group: str = "contactinformation",
    hubspot_defined: bool = True,
    description: str = "",
) -> dict:
    """A property definition with every field HubSpot's `Property` carries and the official client requires."""
    stamp = iso(1_577_836_800_000)
    if kind == "bool" and options is None:
        options = _options((("Yes", "true"), ("No", "false")))
    return {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field,
        "groupName": group,
        "description": description,
        "options": options or [],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "formField": not read_only,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


def initial_state(portal_id: int) -> dict:
    properties = [
        definition("email", "Email", unique=True),
        definition("firstname", "First Name"),
        definition("lastname", "Last Name"),
        definition("phone", "Phone Number", field="phonenumber"),
        definition("mobilephone", "Mobile Phone Number", field="phonenumber"),
        definition("company", "Company Name"),
        definition("jobtitle", "Job Title"),
        definition("city", "City"),
        definition("country", "Country/Region"),
        definition(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            options=_options((stage, stage) for stage in LIFECYCLE_STAGES),
        ),
        definition(
            "hs_legal_basis",
            "Legal basis for processing contact's data",
            "enumeration",
            "checkbox",
            options=_options((value, value) for value in LEGAL_BASIS_OPTIONS),
            group="contact_activity",
        ),
        definition("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox", read_only=True),
        *(
            definition(
                f"hs_email_optout_{s['id']}",
                f"Opted out of email: {s['name']}",
                "bool",
                "booleancheckbox",
                read_only=True,
            )
            for s in SUBSCRIPTION_DEFINITIONS
        ),
        definition("createdate", "Create Date", "datetime", "date", read_only=True),
        definition("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
        definition("hs_object_id", "Record ID", "number", "number", read_only=True, unique=True),
    ]
    return {
        "portal_id": portal_id,
        "next_id": 1001,
        "contacts": {},
        "properties": {p["name"]: p for p in properties},
        "definitions": [dict(s) for s in SUBSCRIPTION_DEFINITIONS],
        "preferences": {},
        "blocklist": [],
        "webhooks": {"settings": None, "subscriptions": {}, "next_subscription_id": 1},
        "next_event_id": 1,
    }


class HubSpotPortal:
    """Contacts and contact properties. `derived(email)` gives the read-only consent properties of an address."""

    def __init__(self, state: StateFile, *, emit: Callable[[dict], None]):
        self.state = state
        self.emit = emit
        self.derived: Callable[[str], dict[str, str | None]] = lambda email: {}
        self._last_ms = 0
        self._by_email: dict[str, str] = {}
        for contact in self.contacts.values():
            email = contact["properties"].get("email")
            if email and not contact["archived"]:
                self._by_email[email] = contact["id"]

    @property
    def data(self) -> dict:
        return self.state.data

    @property
    def contacts(self) -> dict[str, dict]:
        return self.data["contacts"]

    @property
    def properties(self) -> dict[str, dict]:
        return self.data["properties"]

    def now(self) -> int:
        """Milliseconds, strictly increasing across writes: `lastmodifieddate` filters see every change."""
        self._last_ms = max(int(time() * 1000), self._last_ms + 1)
        return self._last_ms

    # -- finding ---------------------------------------------------------------------------------------------

    def by_email(self, email: str) -> dict | None:
        contact_id = self._by_email.get(str(email).strip().lower())
        return self.contacts.get(contact_id) if contact_id else None

    def get(self, contact_id: str, *, archived: bool = False) -> dict | None:
        contact = self.contacts.get(str(contact_id))
        return contact if contact is not None and contact["archived"] == archived else None

    def find(self, reference: str, id_property: str | None = None, *, archived: bool = False) -> dict | None:
        """By record id, or by the value of a unique property (`idProperty`, e.g. email)."""
        if id_property in (None, "", "hs_object_id"):
            return self.get(reference, archived=archived)
        known = self.properties.get(id_property)
        if known is None or not known.get("hasUniqueValue"):
            raise HubSpotError(400, "VALIDATION_ERROR", f"{id_property} is not a unique property of contacts")
        if id_property == "email" and not archived:
            return self.by_email(reference)
        wanted = str(reference).strip().lower()
        return next(
            (
                c
                for c in self.contacts.values()
                if c["archived"] == archived and str(c["properties"].get(id_property, "")).lower() == wanted
            ),
            None,
        )

    def live(self, *, archived: bool = False) -> Iterator[dict]:
        return (c for c in self.contacts.values() if c["archived"] == archived)

    # -- validating ------------------------------------------------------------------------------------------

    def problems(self, values: dict) -> list[dict]:
        """HubSpot's refusals of property values: unknown, read-only, not an option, not an email address."""
        found = []
        for name, value in values.items():
            known = self.properties.get(name)
            if known is None or known.get("archived"):
                found.append(property_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if known["modificationMetadata"].get("readOnlyValue"):
                message = f'"{name}" is a read only property; its value cannot be set.'
                found.append(property_problem(name, "READ_ONLY_VALUE", message))
                continue
            text = _text(value)
            if not text:
                continue
            if known["type"] in ("enumeration", "bool"):
                allowed = {option["value"] for option in known["options"]}
                chosen = text.split(";") if known["fieldType"] == "checkbox" else [text]
                wrong = [choice for choice in chosen if choice not in allowed]
                if wrong:
                    message = f"{wrong[0]} was not one of the allowed options: {sorted(allowed)}"
                    found.append(property_problem(name, "INVALID_OPTION", message))
            elif name == "email" and not EMAIL.match(text):
                found.append(property_problem(name, "INVALID_EMAIL", f"Email address {text} is invalid"))
        return found

    # -- writing ---------------------------------------------------------------------------------------------

    def create(self, values: dict, *, source: Source) -> dict:
        """A new contact (values already validated and its email free); emits creation and property changes."""
        stamp = self.now()
        contact_id = str(self.data["next_id"])
        self.data["next_id"] += 1
        contact: dict[str, Any] = {
            "id": contact_id,
            "properties": {},
            "history": {},
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "archivedAt": None,
        }
        self.contacts[contact_id] = contact
        self.emit(_event("contact.creation", contact, source, stamp, changeFlag="NEW"))
        self._write(contact, values, source, stamp)
        email = contact["properties"].get("email")
        if email:
            self._write(contact, self.derived(email), source, stamp, system=True)
        return contact

    def update(self, contact: dict, values: dict, *, source: Source) -> list[str]:
        changed = self._write(contact, values, source, self.now())
        if "email" in changed and contact["properties"].get("email"):
            self._write(
                contact, self.derived(contact["properties"]["email"]), source, contact["updatedAt"], system=True
            )
        return changed

    def set_system(self, contact: dict, values: dict[str, str | None], *, source: Source) -> list[str]:
        """What HubSpot itself writes (read-only consent properties)."""
        return self._write(contact, values, source, self.now(), system=True)

    def archive(self, contact: dict, *, source: Source) -> None:
        stamp = self.now()
        contact["archived"], contact["archivedAt"] = True, stamp
        self._forget_email(contact)
        self.emit(_event("contact.deletion", contact, source, stamp, changeFlag="DELETED"))

    def erase(self, contact: dict, *, source: Source) -> None:
        """GDPR deletion: the record is gone for good; HubSpot sends a privacy deletion and a deletion."""
        stamp = self.now()
        self._forget_email(contact)
        del self.contacts[contact["id"]]
        self.emit(_event("contact.privacyDeletion", contact, source, stamp, changeFlag="DELETED"))
        self.emit(_event("contact.deletion", contact, source, stamp, changeFlag="DELETED"))

    def email_taken(self, email: str, *, by: dict | None = None) -> dict | None:
        other = self.by_email(email)
        return other if other is not None and other is not by else None

    def _write(self, contact: dict, values: dict, source: Source, stamp: int, *, system: bool = False) -> list[str]:
        changed = []
        for name, value in values.items():
            if name in COMPUTED:
                continue
            text = _text(value)
            if name == "email" and text:
                text = text.strip().lower()
            old = contact["properties"].get(name)
            if (old or "") == text:
                continue
            if name == "email":
                self._forget_email(contact)
            contact["properties"][name] = text if text else None
            entry = {"value": text, "timestamp": iso(stamp), "sourceType": "API" if not system else "SYSTEM"}
            contact["history"].setdefault(name, []).insert(0, entry)
            changed.append(name)
            if name == "email" and text and not contact["archived"]:
                self._by_email[text] = contact["id"]
            self.emit(_event("contact.propertyChange", contact, source, stamp, propertyName=name, propertyValue=text))
        if changed:
            contact["updatedAt"] = stamp
        return changed

    def _forget_email(self, contact: dict) -> None:
        email = contact["properties"].get("email")
        if email and self._by_email.get(email) == contact["id"]:
            del self._by_email[email]

    # -- reading ---------------------------------------------------------------------------------------------

    def value(self, contact: dict, name: str) -> str | None:
        if name == "hs_object_id":
            return contact["id"]
        if name == "createdate":
            return iso(contact["createdAt"])
        if name == "lastmodifieddate":
            return iso(contact["updatedAt"])
        return contact["properties"].get(name)

    def view(
        self,
        contact: dict,
        names: Iterable[str] | None = None,
        *,
        with_history: Iterable[str] = (),
        written: Iterable[str] = (),
    ) -> dict:
        """HubSpot's SimplePublicObject: the asked properties (default set if none); unknown names are ignored."""
        wanted = list(names) if names else [*DEFAULT_VIEW, *written]
        shown = {name: self.value(contact, name) for name in dict.fromkeys(wanted) if name in self.properties}
        body = {
            "id": contact["id"],
            "properties": shown,
            "createdAt": iso(contact["createdAt"]),
            "updatedAt": iso(contact["updatedAt"]),
            "archived": contact["archived"],
        }
        if contact["archived"]:
            body["archivedAt"] = iso(contact["archivedAt"])
        history = [name for name in with_history if name in self.properties]
        if history:
            body["propertiesWithHistory"] = {name: self._history(contact, name) for name in history}
        return body

    def _history(self, contact: dict, name: str) -> list[dict]:
        if name in COMPUTED:
            return [{"value": self.value(contact, name), "timestamp": iso(contact["updatedAt"]), "sourceType": "API"}]
        return list(contact["history"].get(name, []))


def _text(value) -> str:
    """HubSpot property values are strings: booleans as "true"/"false", None clears like an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _event(kind: str, contact: dict, source: Source, stamp: int, **fields) -> dict:
    change_source, source_id = source
    event = {
        "subscriptionType": kind,
        "objectId": int(contact["id"]),
        "occurredAt": stamp,
        "changeSource": change_source,
        **fields,
    }
    if source_id:
        event["sourceId"] = source_id
    return event
