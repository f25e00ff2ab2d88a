"""Permanent deletes in the sandbox: `POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent`.

Mailchimp: "This will make it impossible to re-import the list member." The member goes with all its data (tags,
permissions, merge fields); afterwards a `GET` of it is a 404, as for an address never seen, and every API write
that would add the address again is refused with a 400 titled "Forgotten Email Not Subscribed" ("... was
permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.", wording
from captured answers to `POST`/`PUT` members and to batch operations). Only the person can come back, through
Mailchimp's own signup form; the sandbox's seed stands for that. The audience keeps the subscriber hash of a
forgotten address, never the address. An unknown member is a 404.

An archive (`DELETE` on the member) is not this: the member stays readable as `archived` and can be added again.

Mailchimp documents no webhook for a permanent delete (its events are subscribe, unsubscribe, profile, upemail,
cleaned and campaign), so none is sent, whether the API or a user in Mailchimp deletes. `POST /_sandbox/erase` with
`{"email_address": ...}` is the user's permanent delete in Mailchimp, in every audience that has the member.
"""

from flask import Flask, Response, jsonify, request

from .common import find_member, not_found, now_text, problem, subscriber_hash

TITLE = "Forgotten Email Not Subscribed"


def _detail(email: str) -> str:
    return (
        f"{email} was permanently deleted and cannot be re-imported. "
        "The contact must re-subscribe to get back on the list."
    )


def forget(item: dict, member: dict) -> None:
    """Delete the member for good; keep only its hash, so that the address cannot be imported again."""
    del item["members"][member["id"]]
    item.setdefault("forgotten", {})[member["id"]] = now_text()


def forgotten(item: dict, email: str) -> bool:
    return subscriber_hash(email) in item.get("forgotten", {})


def refusal(email: str) -> Response:
    """The answer of `POST` and `PUT` members (and of the same calls run in a batch) for a forgotten address."""
    return problem(400, TITLE, _detail(email))


def batch_refusal(email: str) -> dict:
    """The entry of batch subscribe's `errors` for a forgotten address: no capture of one was found, so it carries
    the 400's wording and the generic code, as batch subscribe's other refusals do."""
    return {"email_address": email, "error": _detail(email), "error_code": "ERROR_GENERIC"}


def install_forget_routes(app: Flask, sandbox) -> None:
    @app.post("/3.0/lists/<list_id>/members/<reference>/actions/delete-permanent")
    def delete_permanent(list_id, reference):
        item = sandbox.lists.get(list_id)
        with sandbox.state.lock:
            found = find_member(item, reference) if item else None
            if not found:
                return not_found()
            forget(item, found)
            sandbox.state.save()
        return Response(status=204)

    @app.post("/_sandbox/erase")
    def erase():
        email = (request.get_json(force=True) or {}).get("email_address", "")
        deleted = 0
        with sandbox.state.lock:
            for item in sandbox.lists.values():
                found = find_member(item, email)
                if found:
                    forget(item, found)
                    deleted += 1
            sandbox.state.save()
        return jsonify({"deleted": deleted})
