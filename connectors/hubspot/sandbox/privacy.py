"""HubSpot's permanent (GDPR) deletion of a contact, through the API and as a user does it in HubSpot, and the
blocklist it leaves behind.

What HubSpot does, and where it says so:
- `POST /crm/v3/objects/contacts/gdpr-delete` with `{objectId, idProperty?}` answers 204. It "permanently
  delete[s] a contact and all associated content"; with `idProperty=email`, "if email address is not found, the
  email address will be added to a blocklist and prevent it from being used in the future" [spec
  `crm-contacts-v3.json`, the official `hubspot-api-client`'s `basic_api.purge`; changelog "Changes to the GDPR
  deletion endpoints"]. The record is not restorable, unlike the recycle bin of a plain delete.
- It sends `contact.privacyDeletion` and also `contact.deletion`, two notifications in no set order [webhooks
  guide; changelog "Webhooks now support privacy-compliant contact deletions"].
- The blocklist is kept as anonymized data. A blocklisted address cannot come back through HubSpot's UI or an
  import, but does come back through a form submission, an email to a connected inbox, or an API request [HubSpot
  knowledge base, "Perform a permanent delete in HubSpot", updated 2025-06-09]. So here API creates and upserts of
  a blocklisted address make a new contact with a new id; the seed (an import) and a user's edit refuse it.
- Opt-out statuses belong to the address, not the record [knowledge base, "Resubscribe contacts"]: an unsubscribe
  sent later for an erased address is stored by address, as for any address without a contact, and creates no
  contact. UNVERIFIED: whether the purge also drops the address's earlier statuses; HubSpot's pages list what goes
  (contact data, emails, form submissions ...) without naming them. The sandbox drops them with the contact.
"""

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from consentry.connectors.sandbox_kit import ADMIN_PREFIX

from .errors import HubSpotError, json_body
from .portal import Source

API: Source = ("GDPR", None)
USER: Source = ("CRM_UI", "userId:1000001")

blueprint = Blueprint("hubspot_privacy", __name__)


def _sandbox() -> Any:
    return current_app.extensions["hubspot_sandbox"]


def _key(email: str) -> str:
    """What the blocklist keeps of an address: a digest, not the address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def blocked(data: dict, email: str | None) -> bool:
    return bool(email) and _key(str(email)) in data["blocklist"]


def refuse_blocked(data: dict, email: str | None) -> None:
    """HubSpot's UI and imports cannot bring back a permanently deleted address."""
    if blocked(data, email):
        raise HubSpotError(
            400, "VALIDATION_ERROR", "This email address belongs to a permanently deleted contact and cannot be added"
        )


def erase(sandbox: Any, contact: dict | None, email: str | None, *, source: Source) -> None:
    """Blocklist the address, drop its subscription statuses, delete the record for good (it announces itself)."""
    address = (contact["properties"].get("email") if contact else email) or None
    if address:
        address = address.strip().lower()
        if _key(address) not in sandbox.portal.data["blocklist"]:
            sandbox.portal.data["blocklist"].append(_key(address))
        sandbox.portal.data["preferences"].pop(address, None)
    if contact is not None:
        sandbox.portal.erase(contact, source=source)


@blueprint.post("/crm/v3/objects/contacts/gdpr-delete")
def gdpr_delete():
    sandbox = _sandbox()
    body = json_body()
    reference, id_property = body.get("objectId"), body.get("idProperty")
    if reference in (None, "") or not isinstance(reference, str | int) or isinstance(reference, bool):
        raise HubSpotError(400, "VALIDATION_ERROR", "objectId is required")
    with sandbox.state.lock:
        found = sandbox.portal.find(str(reference), id_property)
        if found is None and id_property != "email":
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [str(reference)]})
        erase(sandbox, found, str(reference), source=API)
        sandbox.state.save()
    return Response(status=204)


@blueprint.post(f"{ADMIN_PREFIX}/contacts/gdpr-delete")
def delete_in_hubspot():
    """A user permanently deleting a contact from its record (`{"email": ...}`): only an existing contact."""
    sandbox = _sandbox()
    email = str(json_body().get("email") or "")
    with sandbox.state.lock:
        found = sandbox.portal.by_email(email)
        if found is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found")
        erase(sandbox, found, email, source=USER)
        sandbox.state.save()
        return jsonify({"deleted": found["id"]})


@blueprint.post(f"{ADMIN_PREFIX}/contacts/holds")
def holds():
    """Whether a contact with this address can be read through the API (`{"email": ...}`); the recycle bin's
    records cannot be without asking for archived ones, and the blocklist keeps no address."""
    sandbox = _sandbox()
    with sandbox.state.lock:
        return jsonify({"holds": sandbox.portal.by_email(str(json_body().get("email") or "")) is not None})
