"""Permanent deletes in the sandbox: `POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent`.

Mailchimp: "This will make it impossible to re-import the list member." The member goes with all its data (tags,
permissions, merge fields); afterwards a `GET` of it is a 404, as for an address never seen, and every API write
that would add the address again is refused. Only the person can come back, through Mailchimp's own signup form; the
sandbox's seed stands for that. The audience keeps the subscriber hash of a forgotten address, never the address. An
unknown member is a 404.

Members `POST` and `PUT`, and the same calls run in a batch operation, answer a forgotten address with a 400
problem+json titled "Forgotten Email Not Subscribed" whose detail is "{email} was permanently deleted and cannot be
re-imported. The contact must re-subscribe to get back on the list." Captured answers (third-party, consistent from
2019 to 2023; Mailchimp's documentation lists no such title):
- `POST /lists/{id}/members`: https://github.com/ibericode/mailchimp-for-wordpress/issues/666, .../issues/673 and
  .../issues/771 (body `{"title":"Forgotten Email Not Subscribed","status":400,"detail":"kati...@ho...com was
  permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.",
  "instance":"ef233ab6-..."}`).
- a write whose method the capture does not show: https://pastebin.com/QYm97nCC (2019, the same body with
  `Content-Type: application/problem+json; charset=utf-8` and the `type` of the time,
  "http://developer.mailchimp.com/documentation/mailchimp/guides/error-glossary/").
- `PUT /lists/{id}/members/{hash}` with `status_if_new`: https://konfy.io/config/mailchimp-handling-mailchimp-api-400-error-when-resubscribing-deleted-members
  (same title and detail); https://github.com/brandonseydel/MailChimp.Net/issues/416 (the detail, from
  `Members.AddOrUpdateAsync`).
- batch operations (`/batches` results, `status_code` 400, `response` the same body with `"instance":""`):
  https://github.com/tbar0970/jethro-pmm/issues/982, https://github.com/hitobito/hitobito/issues/1930.
- `GET` of the member afterwards is a 404 ("not found"): https://github.com/nztim/mailchimp/issues/31.

Not verified, and kept as assumptions:
- Batch subscribe (`POST /lists/{list_id}`): no captured answer for a forgotten address was found (searched: GitHub
  issues and code, Mailchimp's docs and Fern SDKs, forum and Q&A pages). The only documented codes are
  `ERROR_CONTACT_EXISTS` and `ERROR_GENERIC` (spec 3.0.55 `errors[].error_code`; official SDK
  mailchimp/mailchimp-marketing-python-sdk `lists/types/batch_subscribe_or_unsubscribe_lists_response_errors_item_
  error_code.py` @51bd5fa3, which also allows any other value); `ERROR_CONTACT_EXISTS` is the "already a list
  member" refusal, and the one other batch refusal found described (a fake-looking address, in a project's notes,
  not a raw capture) carries `ERROR_GENERIC`. So the sandbox reports the forgotten address in `errors` with the
  single-member detail as `error` and `ERROR_GENERIC`. The connector keys on the words "permanently deleted", not on
  the code; should Mailchimp word this entry otherwise, the row is reported failed with its code, never dropped.
- `PATCH` of a forgotten member: no capture; the sandbox answers 404, as for any member it does not have (a `PATCH`
  never adds one).
- The `instance` of the refusal inside batch operation results: captured as "", the sandbox gives its usual id.

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
    """The entry of batch subscribe's `errors` for a forgotten address. An assumption (see the module's docstring):
    no capture of one was found, so it carries the captured 400's detail and `ERROR_GENERIC`, a documented code."""
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
