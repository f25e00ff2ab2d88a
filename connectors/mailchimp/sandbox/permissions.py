"""The sandbox's marketing permissions: the GDPR fields an audience may have.

An audience with GDPR fields (`marketing_permissions: true` on the list) gives every member
`marketing_permissions: [{marketing_permission_id, text, enabled}]`, all disabled for a new member. The ids belong
to the audience and are read from a member; the list resource shows only the flag. The fields are written with
`marketing_permissions: [{marketing_permission_id, enabled}]` on `POST`, `PUT` or `PATCH`
`/lists/{list_id}/members[/{subscriber_hash}]`; an unknown id, or any permission on an audience without GDPR
fields, is a 400 (the exact wording Mailchimp uses is not documented). Batch subscribe's documented member fields
have no `marketing_permissions`, so the sandbox ignores them there and nothing can come to rely on it.

`POST /_sandbox/lists/{list_id}/marketing-permissions` with `{"permissions": [{"text": "Email"}, ...]}` gives an
audience GDPR fields (ids are made up unless given), as an admin would in Mailchimp's audience settings.
"""

import secrets

from flask import Flask, Response, jsonify, request

from .common import invalid, not_found, now_text


def definitions(item: dict) -> list[dict]:
    return item.get("_marketing_permissions", [])


def initial_permissions(item: dict) -> list[dict]:
    """A new member's permissions: every one of the audience's, disabled."""
    return [{**definition, "enabled": False} for definition in definitions(item)]


def permissions_problem(item: dict, requested) -> Response | None:
    """The 400 a request's `marketing_permissions` deserves, or None when it is absent or valid."""
    if requested is None:
        return None
    known = {definition["marketing_permission_id"] for definition in definitions(item)}
    if not isinstance(requested, list) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("marketing_permission_id"), str)
        and isinstance(entry.get("enabled", False), bool)
        for entry in requested
    ):
        return invalid(errors=[{"field": "marketing_permissions", "message": "This value should be of type array."}])
    if not item.get("marketing_permissions"):
        return invalid(
            "This audience does not have marketing permissions enabled.",
            errors=[{"field": "marketing_permissions", "message": "Marketing permissions are not enabled."}],
        )
    if any(entry["marketing_permission_id"] not in known for entry in requested):
        return invalid(
            "Invalid marketing permission ID.",
            errors=[{"field": "marketing_permissions", "message": "Invalid marketing permission ID."}],
        )
    return None


def apply_permissions(member: dict, requested) -> None:
    """Set the requested permissions on the member (checked with `permissions_problem` first)."""
    changed = False
    for entry in requested or []:
        for permission in member["marketing_permissions"]:
            if permission["marketing_permission_id"] == entry["marketing_permission_id"] and "enabled" in entry:
                changed |= permission["enabled"] != entry["enabled"]
                permission["enabled"] = entry["enabled"]
    if changed:
        member["last_changed"] = now_text()


def install_permission_admin(app: Flask, sandbox) -> None:
    @app.post("/_sandbox/lists/<list_id>/marketing-permissions")
    def configure(list_id):
        item = sandbox.lists.get(list_id)
        if item is None:
            return not_found()
        wanted = (request.get_json(force=True) or {}).get("permissions", [])
        with sandbox.state.lock:
            chosen = [
                {
                    "marketing_permission_id": entry.get("marketing_permission_id") or secrets.token_hex(5),
                    "text": entry["text"],
                }
                for entry in wanted
            ]
            item["_marketing_permissions"] = chosen
            item["marketing_permissions"] = bool(chosen)
            for member in item["members"].values():
                present = {permission["marketing_permission_id"] for permission in member["marketing_permissions"]}
                member["marketing_permissions"] = [
                    permission
                    for permission in member["marketing_permissions"]
                    if permission["marketing_permission_id"] in {entry["marketing_permission_id"] for entry in chosen}
                ] + [{**entry, "enabled": False} for entry in chosen if entry["marketing_permission_id"] not in present]
            sandbox.state.save()
        return jsonify({"marketing_permissions": chosen})
