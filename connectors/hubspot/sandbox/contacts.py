"""CRM contacts v3 (`/crm/v3/objects/contacts`, spec `crm-contacts-v3.json`): list, read, create, update, archive,
and the five batch operations, with HubSpot's statuses and refusals (the GDPR deletion is in `privacy`).

Batches take at most 100 inputs. Batch create is all-or-nothing unless every input carries an `objectWriteTraceId`
(HubSpot's opt-in to multi-status), then failures are reported beside the successes in a 207. Batch read and update
report unknown ids in a 207. Upsert by email never partially succeeds: one invalid input refuses the whole batch.
"""

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .errors import HubSpotError, invalid_properties, item_error, json_body
from .portal import Source, iso

BATCH_LIMIT = 100
LIST_LIMIT = 100
API: Source = ("API", None)
NOT_FOUND_IN_BATCH = "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."

blueprint = Blueprint("hubspot_contacts", __name__, url_prefix="/crm/v3/objects/contacts")


def _sandbox() -> Any:
    return current_app.extensions["hubspot_sandbox"]


def names_arg(name: str) -> list[str]:
    """A list query parameter, sent repeated (the official client) or comma-separated (HubSpot's examples)."""
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def _flag(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def _properties_of(entry: Any) -> dict:
    values = entry.get("properties") if isinstance(entry, dict) else None
    if not isinstance(values, dict):
        raise HubSpotError(400, "VALIDATION_ERROR", "Each input needs a properties object")
    return values


def _conflict(existing: dict) -> HubSpotError:
    return HubSpotError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing['id']}")


def _inputs(body: dict) -> list:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotError(400, "VALIDATION_ERROR", "inputs is required and must be a list")
    if len(inputs) > BATCH_LIMIT:
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"Too many inputs: {len(inputs)}. A batch accepts at most {BATCH_LIMIT} inputs."
        )
    return inputs


def _no_duplicates(inputs: list) -> None:
    seen, twice = set(), []
    for entry in inputs:
        key = (entry.get("idProperty") or "hs_object_id", str(entry.get("id", "")).strip().lower())
        if key in seen:
            twice.append(key[1])
        seen.add(key)
    if twice:
        raise HubSpotError(
            400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {sorted(set(twice))}. IDs must be unique"
        )


def _batch(results: list, errors: list, stamp: int, *, ok: int = 200):
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(stamp),
        "completedAt": iso(stamp),
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return jsonify(body), 207 if errors else ok


# -- single records ----------------------------------------------------------------------------------------------


@blueprint.get("")
def list_contacts():
    sandbox = _sandbox()
    try:
        limit = int(request.args.get("limit", 10))
    except ValueError:
        raise HubSpotError(400, "VALIDATION_ERROR", "limit must be an integer") from None
    if not 1 <= limit <= LIST_LIMIT:
        raise HubSpotError(400, "VALIDATION_ERROR", f"limit must be between 1 and {LIST_LIMIT}")
    after = request.args.get("after") or "0"
    if not after.isdigit():
        raise HubSpotError(400, "VALIDATION_ERROR", f"Invalid paging cursor: {after}")
    with sandbox.state.lock:
        portal = sandbox.portal
        rows = [c for c in portal.live(archived=_flag("archived")) if int(c["id"]) >= int(after)]
        page = rows[: limit + 1]
        body: dict = {
            "results": [
                portal.view(c, names_arg("properties"), with_history=names_arg("propertiesWithHistory"))
                for c in page[:limit]
            ]
        }
    if len(page) > limit:
        cursor = page[limit]["id"]
        body["paging"] = {"next": {"after": cursor, "link": f"{request.base_url}?after={cursor}"}}
    return jsonify(body)


@blueprint.post("")
def create_contact():
    sandbox = _sandbox()
    values = _properties_of(json_body())
    with sandbox.state.lock:
        portal = sandbox.portal
        problems = portal.problems(values)
        if problems:
            raise invalid_properties(problems)
        existing = portal.email_taken(values["email"]) if values.get("email") else None
        if existing is not None:
            raise _conflict(existing)
        contact = portal.create(values, source=API)
        sandbox.state.save()
        return jsonify(portal.view(contact, written=values)), 201


@blueprint.route("/<contact_id>", methods=["GET", "PATCH", "DELETE"])
def contact(contact_id: str):
    sandbox = _sandbox()
    with sandbox.state.lock:
        portal = sandbox.portal
        found = portal.find(contact_id, request.args.get("idProperty"), archived=_flag("archived"))
        if request.method == "DELETE":
            if found is not None:
                portal.archive(found, source=API)
                sandbox.state.save()
            return Response(status=204)
        if found is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [contact_id]})
        if request.method == "GET":
            view = portal.view(found, names_arg("properties"), with_history=names_arg("propertiesWithHistory"))
            return jsonify(view)
        values = _properties_of(json_body())
        problems = portal.problems(values)
        if problems:
            raise invalid_properties(problems)
        existing = portal.email_taken(values["email"], by=found) if values.get("email") else None
        if existing is not None:
            raise _conflict(existing)
        portal.update(found, values, source=API)
        sandbox.state.save()
        return jsonify(portal.view(found, written=values))


# -- batches -----------------------------------------------------------------------------------------------------


@blueprint.post("/batch/create")
def batch_create():
    sandbox = _sandbox()
    inputs = _inputs(json_body())
    multi_status = bool(inputs) and all(isinstance(e, dict) and e.get("objectWriteTraceId") for e in inputs)
    with sandbox.state.lock:
        portal = sandbox.portal
        planned, errors, emails = [], [], set()
        for entry in inputs:
            values = _properties_of(entry)
            problems = portal.problems(values)
            email = str(values.get("email") or "").strip().lower()
            existing = portal.email_taken(email) if email else None
            refusal = None
            if problems:
                refusal = invalid_properties(problems)
            elif existing is not None:
                refusal = _conflict(existing)
            elif email and email in emails:
                refusal = HubSpotError(409, "CONFLICT", "Contact already exists in this batch.")
            if refusal is not None and not multi_status:
                raise refusal
            if refusal is not None:
                context = {"objectWriteTraceId": [str(entry["objectWriteTraceId"])]}
                details = refusal.extra.get("errors", [])
                errors.append(item_error(refusal.category, refusal.message, context, errors=details))
                continue
            emails.add(email)
            planned.append(entry)
        stamp = portal.now()
        results = []
        for entry in planned:
            created = portal.create(entry["properties"], source=API)
            view = portal.view(created, written=entry["properties"])
            if entry.get("objectWriteTraceId"):
                view["objectWriteTraceId"] = str(entry["objectWriteTraceId"])
            results.append(view)
        sandbox.state.save()
    return _batch(results, errors, stamp, ok=201)


@blueprint.post("/batch/read")
def batch_read():
    sandbox = _sandbox()
    body = json_body()
    inputs = _inputs(body)
    names, history = body.get("properties") or [], body.get("propertiesWithHistory") or []
    with sandbox.state.lock:
        portal = sandbox.portal
        results, missing, seen = [], [], set()
        for entry in inputs:
            reference = str(entry.get("id", "")) if isinstance(entry, dict) else ""
            found = portal.find(reference, body.get("idProperty"), archived=_flag("archived"))
            if found is None:
                missing.append(reference)
            elif found["id"] not in seen:
                seen.add(found["id"])
                results.append(portal.view(found, names, with_history=history))
        stamp = portal.now()
    errors = [item_error("OBJECT_NOT_FOUND", NOT_FOUND_IN_BATCH, {"ids": missing})] if missing else []
    return _batch(results, errors, stamp)


@blueprint.post("/batch/update")
def batch_update():
    sandbox = _sandbox()
    inputs = _inputs(json_body())
    _no_duplicates(inputs)
    with sandbox.state.lock:
        portal = sandbox.portal
        problems = [p for entry in inputs for p in portal.problems(_properties_of(entry))]
        if problems:
            raise invalid_properties(problems)
        planned, missing = [], []
        for entry in inputs:
            found = portal.find(str(entry.get("id", "")), entry.get("idProperty"))
            if found is None:
                missing.append(str(entry.get("id", "")))
                continue
            email = entry["properties"].get("email")
            existing = portal.email_taken(email, by=found) if email else None
            if existing is not None:
                raise _conflict(existing)
            planned.append((found, entry["properties"]))
        results = []
        for found, values in planned:
            portal.update(found, values, source=API)
            results.append(portal.view(found, written=values))
        stamp = portal.now()
        sandbox.state.save()
    errors = [item_error("OBJECT_NOT_FOUND", NOT_FOUND_IN_BATCH, {"ids": missing})] if missing else []
    return _batch(results, errors, stamp)


@blueprint.post("/batch/upsert")
def batch_upsert():
    """Create or update by a unique property (email for contacts); one bad input refuses the whole batch."""
    sandbox = _sandbox()
    inputs = _inputs(json_body())
    _no_duplicates(inputs)
    with sandbox.state.lock:
        portal = sandbox.portal
        problems = [p for entry in inputs for p in portal.problems(_properties_of(entry))]
        if problems:
            raise invalid_properties(problems)
        planned = []
        for entry in inputs:
            reference, id_property = str(entry.get("id", "")).strip(), entry.get("idProperty")
            found = portal.find(reference, id_property)
            if found is None and id_property != "email":
                raise HubSpotError(
                    400, "VALIDATION_ERROR", "Upserting a new contact needs idProperty=email (or a unique property)"
                )
            if found is None:
                bad = portal.problems({"email": reference})
                if bad:
                    raise invalid_properties(bad)
            planned.append((found, reference, entry["properties"]))
        results = []
        for found, reference, values in planned:
            if found is None:
                created = portal.create({**values, "email": reference}, source=API)
                results.append({**portal.view(created, written=values), "new": True})
            else:
                portal.update(found, values, source=API)
                results.append({**portal.view(found, written=values), "new": False})
        stamp = portal.now()
        sandbox.state.save()
    return _batch(results, [], stamp)


@blueprint.post("/batch/archive")
def batch_archive():
    sandbox = _sandbox()
    inputs = _inputs(json_body())
    with sandbox.state.lock:
        portal = sandbox.portal
        for entry in inputs:
            found = portal.get(str(entry.get("id", ""))) if isinstance(entry, dict) else None
            if found is not None:
                portal.archive(found, source=API)
        sandbox.state.save()
    return Response(status=204)
