"""A local, stateful Mailchimp Marketing API 3.0 for tests and the demo (facts: vendors/CONTRACTS.md §2).

Same paths, payloads, statuses and problem+json errors as Mailchimp for what Consentry uses: ping, lists, members
(by subscriber hash), batch subscribe, tags and the static segments they are (`tags`), marketing permissions
(`permissions`), batch operations (`batches`), permanent deletes (`forgotten`), list webhooks (signed deliveries,
the signing secret shown once, the validation GET), Basic and Bearer auth, the compliance-state rule, and a 429
beyond 10 simultaneous connections. Admin endpoints under /_sandbox/ seed members, act as a recipient or an admin would,
and read the delivery log and call counters.

An address already on the list is refused in the words Mailchimp uses, as captured in public reports: on
`POST /lists/{id}/members`, 400 "Member Exists", "<email> is already a list member. Use PUT to insert or update list
members." (github.com/mailchimp/APIv3-examples/issues/49, github.com/VingtCinq/python-mailchimp/issues/222); in
batch subscribe without `update_existing`, `ERROR_CONTACT_EXISTS` with "<email> is already a list member, do you
want to update? please provide update_existing:true in the request body" (quoted by several public integrations that
compare the text, found with the code search).
"""

import hashlib
import hmac
import os
import secrets
import threading
import time
import uuid
from base64 import b64decode
from datetime import UTC, datetime
from urllib.parse import urlencode

import requests
from flask import Flask, Response, jsonify, request

from consentry.connectors.sandbox_kit import (
    Faults,
    StateFile,
    WebhookDispatcher,
    closes_with,
    install_faults,
    is_loopback_url,
)

from .batches import BATCH_OPERATION, install_batch_routes
from .common import MAX_PAGE, find_member, now_text, page_arguments, problem, subscriber_hash
from .common import valid_email as _valid_email
from .forgotten import batch_refusal, forgotten, install_forget_routes, refusal
from .permissions import apply_permissions, initial_permissions, install_permission_admin, permissions_problem
from .tags import add_tag, ensure_segments, install_tag_routes

DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us1"
DEFAULT_LIST_ID = "a1b2c3d4e5"
MAX_CONNECTIONS = 10
MAX_BATCH = 500
MEMBER_TAGS = 50  # tags a member resource shows
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
PATCH_STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending"}
EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")


class MailchimpSandbox:
    def __init__(self, state_path=None, *, api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID):
        self.api_key = api_key
        self.state = StateFile(state_path, lambda: {"lists": {list_id: _new_list(list_id, "Consentry sandbox")}})
        self.dispatcher = WebhookDispatcher()
        self.in_flight = 0
        self.in_flight_lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.batches: dict[str, dict] = {}  # batch operations, kept in memory only
        self.batch_polls = 0  # status reads a new batch stays unfinished for

    @property
    def lists(self) -> dict:
        return self.state.data["lists"]

    def close(self) -> None:
        """Stop delivering webhooks (retries included)."""
        self.dispatcher.close()

    # -- members ---------------------------------------------------------------------------------------------

    def member_view(self, list_id: str, member: dict) -> dict:
        return {
            **member,
            "list_id": list_id,
            "tags": member["tags"][:MEMBER_TAGS],  # "Returns up to 50 tags": the rest through the member's tags
            "tags_count": len(member["tags"]),
            "_links": [{"rel": "self", "href": f"/3.0/lists/{list_id}/members/{member['id']}", "method": "GET"}],
        }

    def new_member(self, item: dict, email: str, status: str, body: dict) -> dict:
        """A member as the audience would create it, tagged and with the audience's permissions (all disabled)."""
        digest = subscriber_hash(email)
        stamp = now_text()
        member = {
            "id": digest,
            "email_address": email.strip(),
            "unique_email_id": digest[:10],
            "contact_id": digest[:24],
            "web_id": int(digest[:7], 16),
            "email_type": body.get("email_type", "html"),
            "status": status,
            "unsubscribe_reason": "",
            "merge_fields": dict(body.get("merge_fields") or {}),
            "interests": {},
            "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
            "ip_signup": body.get("ip_signup", ""),
            "timestamp_signup": body.get("timestamp_signup", ""),
            "ip_opt": body.get("ip_opt", ""),
            "timestamp_opt": body.get("timestamp_opt", stamp if status == "subscribed" else ""),
            "member_rating": 2,
            "last_changed": stamp,
            "language": body.get("language", ""),
            "vip": False,
            "email_client": "",
            "location": {},
            "marketing_permissions": initial_permissions(item),
            "source": "API - Generic",
            "tags": [],
            "sms_phone_number": "",
            "sms_subscription_status": "",
            "sms_subscription_last_updated": "",
        }
        for name in body.get("tags") or []:
            if isinstance(name, str):
                add_tag(item, member, name)
        member["last_changed"] = stamp
        return member

    def set_status(self, list_id: str, member: dict, status: str, source: str, reason: str = "") -> None:
        """Change a member's status and deliver the matching webhook."""
        if member["status"] == status:
            return
        member["status"] = status
        member["last_changed"] = now_text()
        if status == "unsubscribed":
            member["unsubscribe_reason"] = reason or "N/A (Unsubscribed by API)"
            self.deliver(list_id, "unsubscribe", source, member, {"action": "unsub", "reason": "manual"})
        elif status == "cleaned":
            self.deliver(list_id, "cleaned", source, member, {"reason": reason or "hard"})
        elif status == "subscribed":
            self.deliver(list_id, "subscribe", source, member, {})

    # -- webhooks --------------------------------------------------------------------------------------------

    def deliver(self, list_id: str, event: str, source: str, member: dict, extra: dict) -> None:
        fired_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        form = {
            "type": event,
            "fired_at": fired_at,
            "data[id]": member["id"],
            "data[list_id]": list_id,
            "data[email]": member["email_address"],
            "data[email_type]": member["email_type"],
            "data[ip_opt]": member.get("ip_opt", ""),
            "data[web_id]": str(member["web_id"]),
        }
        form.update({f"data[{key}]": value for key, value in extra.items()})
        form["data[merges][EMAIL]"] = member["email_address"]
        for key, value in member["merge_fields"].items():
            form[f"data[merges][{key}]"] = str(value)
        body = urlencode(form).encode()
        for hook in self.lists[list_id]["webhooks"].values():
            if not hook["events"].get(event) or not hook["sources"].get(source):
                continue
            headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "MailChimp.com"}
            if hook.get("signing_enabled"):
                stamp = str(int(time.time()))
                digest = hmac.new(hook["_secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
                headers["X-Mailchimp-Signature"] = f"t={stamp},v1={digest}"
            self.dispatcher.send(hook["url"], body, headers)


def _new_list(list_id: str, name: str) -> dict:
    return {
        "id": list_id,
        "name": name,
        "double_optin": False,
        "marketing_permissions": False,
        "date_created": now_text(),
        "members": {},
        "webhooks": {},
        "segments": {},
        "next_segment_id": 1,
    }


HIDDEN = frozenset({"members", "webhooks", "segments", "next_segment_id", "forgotten"})


def _list_view(item: dict) -> dict:
    return {key: value for key, value in item.items() if key not in HIDDEN and not key.startswith("_")}


def create_app(
    state_path=None, *, faults: Faults | None = None, api_key: str | None = None, list_id: str = DEFAULT_LIST_ID
) -> Flask:
    api_key = api_key or os.environ.get("CONSENTRY_MAILCHIMP_SANDBOX_API_KEY") or DEFAULT_API_KEY
    sandbox = MailchimpSandbox(state_path, api_key=api_key, list_id=list_id)
    for item in sandbox.lists.values():
        ensure_segments(item)  # a state saved before tags had their registry
    app = Flask(__name__)
    app.extensions["mailchimp_sandbox"] = sandbox
    closes_with(app, sandbox.close)
    _routes(app, sandbox)  # first: authentication and the connection count come before injected faults
    install_tag_routes(app, sandbox)
    install_batch_routes(app, sandbox)
    install_forget_routes(app, sandbox)
    install_faults(
        app,
        faults or Faults(),
        rate_limited=lambda: problem(
            429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections."
        ),
        server_error=lambda status: problem(status, "Internal Server Error", "An unexpected error occurred."),
    )
    _admin_routes(app, sandbox)
    install_permission_admin(app, sandbox)
    return app


def _routes(app: Flask, sandbox: MailchimpSandbox) -> None:
    @app.before_request
    def _authenticate_and_count():
        if not request.path.startswith("/3.0"):
            return None
        key = _presented_key()
        if key is None:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        if not hmac.compare_digest(key, sandbox.api_key):
            return problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        if request.environ.get(BATCH_OPERATION):
            return None  # part of a batch: the batch was the call
        with sandbox.in_flight_lock:
            if sandbox.in_flight >= MAX_CONNECTIONS:
                return problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
            sandbox.in_flight += 1
            request.environ["sandbox.counted"] = True
            route = request.url_rule.rule if request.url_rule else request.path
            kind = f"{request.method} {route}"
            sandbox.calls[kind] = sandbox.calls.get(kind, 0) + 1
        return None

    @app.teardown_request
    def _release(_error=None):
        if request.environ.get("sandbox.counted"):
            with sandbox.in_flight_lock:
                sandbox.in_flight -= 1

    def the_list(list_id: str) -> dict | None:
        return sandbox.lists.get(list_id)

    def not_found() -> Response:
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _unknown(error):
        if not request.path.startswith("/3.0"):
            return error
        if error.code == 405:
            return problem(
                405, "Method Not Allowed", "The requested method and resource are not compatible. See the Allow header."
            )
        return not_found()

    @app.get("/3.0/ping")
    def ping():
        return jsonify({"health_status": "Everything's Chimpy!"})

    @app.get("/3.0/lists")
    def lists():
        views = [
            _list_view(item) | {"stats": {"member_count": len(item["members"])}} for item in sandbox.lists.values()
        ]
        return jsonify({"lists": views, "total_items": len(views)})

    @app.get("/3.0/lists/<list_id>")
    def get_list(list_id):
        item = the_list(list_id)
        if item is None:
            return not_found()
        return jsonify(_list_view(item))

    @app.get("/3.0/lists/<list_id>/members")
    def list_members(list_id):
        item = the_list(list_id)
        if item is None:
            return not_found()
        try:
            count = int(request.args.get("count", 10))
            offset = int(request.args.get("offset", 0))
        except ValueError:
            return problem(400, "Invalid Resource", "count and offset must be integers.")
        if count > MAX_PAGE:
            return problem(400, "Invalid Resource", f"The count parameter may not be greater than {MAX_PAGE}.")
        members = list(item["members"].values())
        status = request.args.get("status")
        if status:
            members = [m for m in members if m["status"] == status]
        since = request.args.get("since_last_changed")
        if since:
            members = [m for m in members if m["last_changed"] > _normal_time(since)]
        if request.args.get("sort_field") == "last_changed":
            members.sort(key=lambda m: m["last_changed"], reverse=request.args.get("sort_dir") == "DESC")
        page = members[offset : offset + count]
        with sandbox.state.lock:
            views = [sandbox.member_view(list_id, m) for m in page]
        return jsonify({"members": views, "list_id": list_id, "total_items": len(members), "_links": []})

    @app.post("/3.0/lists/<list_id>/members")
    def add_member(list_id):
        item = the_list(list_id)
        if item is None:
            return not_found()
        body = request.get_json(silent=True) or {}
        email, status = body.get("email_address"), body.get("status")
        if not _valid_email(email) or status not in STATUSES:
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        refused = permissions_problem(item, body.get("marketing_permissions"))
        if refused is not None:
            return refused
        with sandbox.state.lock:
            if subscriber_hash(email) in item["members"]:
                detail = f"{email} is already a list member. Use PUT to insert or update list members."
                return problem(400, "Member Exists", detail)
            if forgotten(item, email):
                return refusal(email)
            member = item["members"][subscriber_hash(email)] = sandbox.new_member(item, email, status, body)
            apply_permissions(member, body.get("marketing_permissions"))
            if status == "subscribed":
                sandbox.deliver(list_id, "subscribe", "api", member, {})
            sandbox.state.save()
            return jsonify(sandbox.member_view(list_id, member))

    @app.route("/3.0/lists/<list_id>/members/<reference>", methods=["GET", "PUT", "PATCH", "DELETE"])
    def member(list_id, reference):
        item = the_list(list_id)
        if item is None:
            return not_found()
        with sandbox.state.lock:
            found = find_member(item, reference)
            if request.method == "GET":
                return jsonify(sandbox.member_view(list_id, found)) if found else not_found()
            if request.method == "DELETE":
                if not found or found["status"] == "archived":
                    return not_found()
                found["status"], found["last_changed"] = "archived", now_text()
                sandbox.state.save()
                return Response(status=204)
            body = request.get_json(silent=True) or {}
            refused = permissions_problem(item, body.get("marketing_permissions"))
            if refused is not None:
                return refused
            if request.method == "PUT":
                return _put(list_id, item, found, reference, body)
            if not found:
                return not_found()
            return _change(list_id, found, body, allowed=PATCH_STATUSES)

    def _put(list_id, item, found, reference, body):
        email = body.get("email_address")
        if not _valid_email(email) or (found is None and body.get("status_if_new") not in STATUSES):
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        if subscriber_hash(email) != (
            found["id"] if found else (reference if len(reference) == 32 else subscriber_hash(reference))
        ):
            return problem(400, "Invalid Resource", "The email address does not match the subscriber hash.")
        if found is None and forgotten(item, email):
            return refusal(email)
        if found is None or found["status"] == "archived":
            status = body.get("status") or body["status_if_new"]
            member = item["members"][subscriber_hash(email)] = sandbox.new_member(item, email, status, body)
            apply_permissions(member, body.get("marketing_permissions"))
            sandbox.state.save()
            return jsonify(sandbox.member_view(list_id, member))
        return _change(list_id, found, body, allowed=STATUSES)

    def _change(list_id, found, body, *, allowed):
        status = body.get("status")
        if status is not None and status not in allowed:
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        if status == "subscribed" and found["status"] in ("unsubscribed", "cleaned"):
            return problem(
                400,
                "Member In Compliance State",
                "The contact is in a compliance state due to unsubscribe, bounce, or compliance review "
                "and cannot be subscribed.",
            )
        if "merge_fields" in body:
            found["merge_fields"].update(body["merge_fields"] or {})
            found["last_changed"] = now_text()
        apply_permissions(found, body.get("marketing_permissions"))
        if status is not None:
            sandbox.set_status(list_id, found, status, "api")
        sandbox.state.save()
        return jsonify(sandbox.member_view(list_id, found))

    @app.post("/3.0/lists/<list_id>")
    def batch_subscribe(list_id):
        item = the_list(list_id)
        if item is None:
            return not_found()
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        if len(body["members"]) > MAX_BATCH:
            return problem(400, "Invalid Resource", f"You may only add or update up to {MAX_BATCH} members.")
        created, updated, errors = [], [], []
        with sandbox.state.lock:
            for entry in body["members"]:
                outcome = _batch_one(list_id, item, entry, bool(body.get("update_existing")))
                if isinstance(outcome, dict) and outcome.get("error"):
                    errors.append(outcome)
                elif outcome[0] == "new":
                    created.append(sandbox.member_view(list_id, outcome[1]))
                else:
                    updated.append(sandbox.member_view(list_id, outcome[1]))
            sandbox.state.save()
        return jsonify(
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
                "_links": [],
            }
        )

    def _batch_one(list_id, item, entry, update_existing):
        email, status = entry.get("email_address"), entry.get("status")
        if not _valid_email(email) or status not in STATUSES:
            return {
                "email_address": email,
                "error": "The resource submitted could not be validated.",
                "error_code": "ERROR_GENERIC",
            }
        found = item["members"].get(subscriber_hash(email))
        if found is not None and found["status"] != "archived":
            if not update_existing:
                return {
                    "email_address": email,
                    "error": (
                        f"{email} is already a list member, do you want to update? please provide "
                        "update_existing:true in the request body"
                    ),
                    "error_code": "ERROR_CONTACT_EXISTS",
                }
            if status == "subscribed" and found["status"] in ("unsubscribed", "cleaned"):
                return {
                    "email_address": email,
                    "error": f"{email} is in a compliance state due to unsubscribe, "
                    "bounce, or compliance review and cannot be subscribed.",
                    "error_code": "ERROR_GENERIC",
                }
            for name in entry.get("tags") or []:
                if isinstance(name, str):
                    add_tag(item, found, name)
            sandbox.set_status(list_id, found, status, "api")
            return ("updated", found)  # `marketing_permissions` is not a batch-subscribe field: ignored
        if forgotten(item, email):
            return batch_refusal(email)
        member = item["members"][subscriber_hash(email)] = sandbox.new_member(item, email, status, entry)
        return ("new", member)

    @app.route("/3.0/lists/<list_id>/members/<reference>/tags", methods=["GET", "POST"])
    def tags(list_id, reference):
        item = the_list(list_id)
        with sandbox.state.lock:
            found = find_member(item, reference) if item else None
            if not found:
                return not_found()
            if request.method == "GET":
                paging = page_arguments(request.args)
                if isinstance(paging, Response):
                    return paging
                count, offset = paging
                page = found["tags"][offset : offset + count]
                return jsonify({"tags": page, "total_items": len(found["tags"]), "_links": []})
            body = request.get_json(silent=True) or {}
            wanted = body.get("tags")
            if not isinstance(wanted, list) or any(t.get("status") not in ("active", "inactive") for t in wanted):
                return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
            for tag in wanted:
                if tag["status"] == "active":
                    add_tag(item, found, tag["name"])
                else:
                    found["tags"] = [t for t in found["tags"] if t["name"] != tag["name"]]
            found["last_changed"] = now_text()
            sandbox.state.save()
        return Response(status=204)

    @app.route("/3.0/lists/<list_id>/webhooks", methods=["GET", "POST"])
    def webhooks(list_id):
        item = the_list(list_id)
        if item is None:
            return not_found()
        if request.method == "GET":
            views = [_hook_view(hook) for hook in item["webhooks"].values()]
            return jsonify({"webhooks": views, "list_id": list_id, "total_items": len(views)})
        body = request.get_json(silent=True) or {}
        url = body.get("url", "")
        if not url or not is_loopback_url(url) or not _validates(url):
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        hook_id = uuid.uuid4().hex[:10]
        secret = secrets.token_hex(24)
        hook = {
            "id": hook_id,
            "url": url,
            "list_id": list_id,
            "events": {name: bool((body.get("events") or {}).get(name, name != "campaign")) for name in EVENTS},
            "sources": {name: bool((body.get("sources") or {}).get(name, True)) for name in ("user", "admin", "api")},
            "signing_enabled": True,
            "_secret": secret,
        }
        with sandbox.state.lock:
            item["webhooks"][hook_id] = hook
            sandbox.state.save()
        return jsonify({**_hook_view(hook), "signing_secret": secret})

    @app.route("/3.0/lists/<list_id>/webhooks/<hook_id>", methods=["GET", "PATCH", "DELETE"])
    def webhook(list_id, hook_id):
        item = the_list(list_id)
        hook = item["webhooks"].get(hook_id) if item else None
        if hook is None:
            return not_found()
        with sandbox.state.lock:
            if request.method == "DELETE":
                del item["webhooks"][hook_id]
                sandbox.state.save()
                return Response(status=204)
            if request.method == "PATCH":
                body = request.get_json(silent=True) or {}
                for group in ("events", "sources"):
                    hook[group].update({k: bool(v) for k, v in (body.get(group) or {}).items() if k in hook[group]})
                sandbox.state.save()
        return jsonify(_hook_view(hook))


def _hook_view(hook: dict) -> dict:
    return {key: value for key, value in hook.items() if not key.startswith("_")}


def _validates(url: str) -> bool:
    """Mailchimp checks a webhook URL with a GET before accepting it."""
    try:
        answer = requests.get(url, headers={"User-Agent": "MailChimp.com WebHook Validator"}, timeout=5)
    except requests.RequestException:
        return False
    return 200 <= answer.status_code < 300


def _normal_time(text: str) -> str:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    except ValueError:
        return text


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    if header.startswith("Basic "):
        try:
            return b64decode(header.removeprefix("Basic ")).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return None


def _admin_routes(app: Flask, sandbox: MailchimpSandbox) -> None:
    @app.post("/_sandbox/lists/<list_id>/seed")
    def seed(list_id):
        """Add members as they would already exist: {"members": [{"email_address", "status", "merge_fields",
        "location"}]} (location as Mailchimp would have guessed it: country_code, timezone ...). A permanently
        deleted address comes back too, as after the person signed up again through Mailchimp's own form."""
        item = sandbox.lists.setdefault(list_id, _new_list(list_id, "Seeded"))
        with sandbox.state.lock:
            for entry in (request.get_json(force=True) or {}).get("members", []):
                member = sandbox.new_member(item, entry["email_address"], entry.get("status", "subscribed"), entry)
                apply_permissions(member, entry.get("marketing_permissions"))
                member["location"] = dict(entry.get("location") or {})
                item["members"][member["id"]] = member
            sandbox.state.save()
        return jsonify({"members": len(item["members"])})

    @app.post("/_sandbox/lists/<list_id>/members/<reference>/status")
    def act(list_id, reference):
        """A change made in Mailchimp itself: {"status": "unsubscribed", "source": "user"|"admin"}."""
        body = request.get_json(force=True) or {}
        item = sandbox.lists.get(list_id)
        with sandbox.state.lock:
            found = find_member(item, reference) if item else None
            if not found:
                return problem(404, "Resource Not Found", "The requested resource could not be found.")
            sandbox.set_status(list_id, found, body.get("status", "unsubscribed"), body.get("source", "user"))
            sandbox.state.save()
        return jsonify({"status": found["status"]})

    @app.get("/_sandbox/deliveries")
    def deliveries():
        return jsonify({"deliveries": sandbox.dispatcher.log, "pending": sandbox.dispatcher.pending()})

    @app.get("/_sandbox/calls")
    def calls():
        return jsonify({"calls": sandbox.calls, "total": sum(sandbox.calls.values())})
