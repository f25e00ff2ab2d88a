"""Admin endpoints under /_sandbox/ (no authentication, loopback only): seed contacts, act as a recipient or a
HubSpot user would (unsubscribing by email link or in the CRM, editing a record; a permanent deletion is in
`privacy`), flush webhook batches, and read the delivery log, the opt-out state and the call counters tests use
to count API calls.
"""

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from consentry.connectors.sandbox_kit import ADMIN_PREFIX

from .consent import STATES
from .errors import HubSpotError, invalid_properties, json_body
from .privacy import refuse_blocked

blueprint = Blueprint("hubspot_admin", __name__, url_prefix=ADMIN_PREFIX)
UI_SOURCES = {"EMAIL": None, "CRM_UI": "userId:1000001", "FORM": None, "IMPORT": None, "API": None}


def _sandbox() -> Any:
    return current_app.extensions["hubspot_sandbox"]


def _source(body: dict, default: str) -> tuple[str, str | None]:
    name = str(body.get("source") or default).upper()
    if name not in UI_SOURCES:
        raise HubSpotError(400, "VALIDATION_ERROR", f"source must be one of {sorted(UI_SOURCES)}")
    return name, body.get("sourceId") or UI_SOURCES[name]


@blueprint.post("/contacts/seed")
def seed():
    """Contacts as they already exist in the account (no webhook is sent):
    `{"contacts": [{"email": ..., "firstname": ..., "opted_out": false, "subscriptions": {"101": "SUBSCRIBED"}}]}`."""
    sandbox = _sandbox()
    entries = json_body().get("contacts") or []
    with sandbox.state.lock, sandbox.quiet():
        portal, book = sandbox.portal, sandbox.consent
        for entry in entries:
            values = {k: v for k, v in entry.items() if k not in ("opted_out", "subscriptions")}
            problems = portal.problems(values)
            if problems:
                raise invalid_properties(problems)
            if values.get("email") and portal.email_taken(values["email"]):
                raise HubSpotError(409, "CONFLICT", "Contact already exists.")
            refuse_blocked(portal.data, values.get("email"))
            email = str(values.get("email") or "").strip().lower()
            for subscription_id, state in (entry.get("subscriptions") or {}).items():
                if state not in STATES or book.definition(subscription_id) is None or not email:
                    raise HubSpotError(400, "VALIDATION_ERROR", "subscriptions maps known ids to a status")
                book.set_status(email, subscription_id, state, source=("IMPORT", None))
            if entry.get("opted_out") and email:
                book.unsubscribe_all(email, source=("IMPORT", None))
            portal.create(values, source=("IMPORT", None))
        sandbox.state.save()
        total = sum(1 for _ in portal.live())
    return jsonify({"created": len(entries), "contacts": total})


@blueprint.get("/contacts")
def contacts():
    sandbox = _sandbox()
    with sandbox.state.lock:
        portal = sandbox.portal
        rows = [
            {
                **portal.view(c, list(portal.properties)),
                "optedOut": sandbox.consent.opted_out(c["properties"].get("email") or ""),
            }
            for c in portal.live()
        ]
        blocklist = list(portal.data["blocklist"])
    return jsonify({"contacts": rows, "blocklist": blocklist})


@blueprint.post("/contacts/unsubscribe")
def unsubscribe():
    """A recipient unsubscribing through an email link (source EMAIL, the default) or a user doing it in the CRM
    (CRM_UI): from all email, or from one subscription with `subscriptionId`."""
    sandbox = _sandbox()
    body = json_body()
    email, source = str(body.get("email") or "").strip().lower(), _source(body, "EMAIL")
    if not email:
        raise HubSpotError(400, "VALIDATION_ERROR", "email is required")
    with sandbox.state.lock:
        book = sandbox.consent
        if body.get("subscriptionId") is not None:
            found = book.definition(body["subscriptionId"])
            if found is None:
                raise HubSpotError(400, "VALIDATION_ERROR", "unknown subscriptionId")
            changed = book.set_status(email, found["id"], "UNSUBSCRIBED", source=source) != "NO_STATUS_CHANGE"
        else:
            changed = book.unsubscribe_all(email, source=source)
        sandbox.state.save()
    return jsonify({"changed": changed})


@blueprint.post("/contacts/update")
def update():
    """A user editing a contact in HubSpot: `{"email" or "id": ..., "properties": {...}, "source": "CRM_UI"}`."""
    sandbox = _sandbox()
    body = json_body()
    values, source = body.get("properties") or {}, _source(body, "CRM_UI")
    with sandbox.state.lock:
        portal = sandbox.portal
        found = portal.by_email(body["email"]) if body.get("email") else portal.get(str(body.get("id")))
        if found is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found")
        problems = portal.problems(values)
        if problems:
            raise invalid_properties(problems)
        refuse_blocked(portal.data, values.get("email"))
        changed = portal.update(found, values, source=source)
        sandbox.state.save()
    return jsonify({"changed": changed})


@blueprint.get("/opted-out/<email>")
def opted_out(email: str):
    sandbox = _sandbox()
    with sandbox.state.lock:
        return jsonify({"opted_out": sandbox.consent.opted_out(email)})


@blueprint.post("/webhooks/flush")
def flush():
    """Send every waiting event now (the only way they leave when the sandbox runs with manual flushing)."""
    return jsonify(_sandbox().outbox.flush())


@blueprint.get("/deliveries")
def deliveries():
    outbox = _sandbox().outbox
    return jsonify(
        {"deliveries": list(outbox.log), "queued_events": outbox.queued(), "pending": outbox.dispatcher.pending()}
    )


@blueprint.get("/calls")
def calls():
    counted = _sandbox().calls.snapshot()
    return jsonify({"calls": counted, "total": sum(counted.values())})


@blueprint.post("/calls/reset")
def reset_calls():
    _sandbox().calls.reset()
    return jsonify({"calls": {}, "total": 0})


@blueprint.post("/tokens/expire")
def expire_tokens():
    """Every OAuth access token issued so far expires now (private-app tokens never do)."""
    return jsonify({"expired": _sandbox().tokens.expire_all()})


@blueprint.post("/limits/reset")
def reset_limits():
    _sandbox().limits.reset()
    if request.args.get("calls") == "true":
        _sandbox().calls.reset()
    return jsonify({"reset": True})
