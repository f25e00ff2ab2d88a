"""Contact property definitions (`/crm/v3/properties/contacts`, spec `crm-properties-v3.json`): list, read one,
create one. Creating a name that exists is HubSpot's 409 OBJECT_ALREADY_EXISTS; `hs_` names are HubSpot's own.
"""

import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from .errors import HubSpotError, json_body
from .portal import definition, iso

TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}
FIELD_TYPES = {
    "textarea",
    "text",
    "date",
    "file",
    "number",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "calculation_equation",
    "html",
    "phonenumber",
}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

blueprint = Blueprint("hubspot_properties", __name__, url_prefix="/crm/v3/properties/contacts")


def _sandbox() -> Any:
    return current_app.extensions["hubspot_sandbox"]


@blueprint.get("")
def list_properties():
    sandbox = _sandbox()
    archived = request.args.get("archived", "false").lower() == "true"
    with sandbox.state.lock:
        found = [p for p in sandbox.portal.properties.values() if bool(p.get("archived")) == archived]
    return jsonify({"results": found})


@blueprint.get("/<name>")
def read_property(name: str):
    sandbox = _sandbox()
    with sandbox.state.lock:
        found = sandbox.portal.properties.get(name)
    if found is None:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type 0-1")
    return jsonify(found)


@blueprint.post("")
def create_property():
    sandbox = _sandbox()
    body = json_body()
    missing = [key for key in ("name", "label", "type", "fieldType", "groupName") if not body.get(key)]
    if missing:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Missing required fields: {missing}")
    name, kind, field = str(body["name"]), body["type"], body["fieldType"]
    if not NAME.match(name) or name.startswith("hs_"):
        raise HubSpotError(400, "VALIDATION_ERROR", f"Invalid property name: {name}")
    if kind not in TYPES or field not in FIELD_TYPES:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Invalid type/fieldType combination: {kind}/{field}")
    options = body.get("options") or []
    if kind == "enumeration" and not options:
        raise HubSpotError(400, "VALIDATION_ERROR", "Enumeration properties need options")
    if not all(isinstance(o, dict) and o.get("label") and o.get("value") is not None for o in options):
        raise HubSpotError(400, "VALIDATION_ERROR", "Every option needs a label and a value")
    with sandbox.state.lock:
        properties = sandbox.portal.properties
        if name in properties:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
        created = definition(
            name,
            str(body["label"]),
            kind,
            field,
            group=str(body["groupName"]),
            unique=bool(body.get("hasUniqueValue")),
            hubspot_defined=False,
            description=str(body.get("description") or ""),
            options=[
                {
                    "label": str(o["label"]),
                    "value": str(o["value"]),
                    "displayOrder": int(o.get("displayOrder", index)),
                    "hidden": bool(o.get("hidden", False)),
                    "description": str(o.get("description") or ""),
                }
                for index, o in enumerate(options)
            ]
            or None,
        )
        stamp = iso(sandbox.portal.now())
        created.update(createdAt=stamp, updatedAt=stamp, formField=bool(body.get("formField", False)))
        properties[name] = created
        sandbox.state.save()
    return jsonify(created), 201
