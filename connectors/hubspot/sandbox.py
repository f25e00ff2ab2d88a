"""A local, stateful HubSpot API for tests and the demo (facts: vendors/CONTRACTS.md §1).

Contacts v3 (list, read, create, update, archive, search, batch create/read/update/upsert/archive, gdpr-delete),
contact properties, communication preferences v3 and v4, an app's webhook settings and subscriptions, signed
deliveries (v3 and v1 headers) of up to 100 events, the rolling 10-second limit and the search limit with HubSpot's
429 body and headers, and HubSpot's error shape. Same rules as HubSpot: `hs_email_optout` is read-only, v3 subscribe
refuses to re-subscribe an opted-out contact, v4 needs a legal basis to subscribe.
"""

import os
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime

from flask import Flask, Response, jsonify, request

from connectors.sandbox_kit import Faults, StateFile, WebhookDispatcher, install_faults

from .webhooks import signature_v1, signature_v3

DEFAULT_TOKEN = "pat-eu1-sandbox-0000-0000-000000000000"
DEFAULT_CLIENT_SECRET = "hubspot-sandbox-client-secret"
APP_ID = 54321
PORTAL_ID = 62515
BATCH_LIMIT = 100
SEARCH_LIMIT = 200
LEGAL_BASES = {
    "CONSENT_WITH_NOTICE",
    "LEGITIMATE_INTEREST_CLIENT",
    "LEGITIMATE_INTEREST_OTHER",
    "LEGITIMATE_INTEREST_PQL",
    "NON_GDPR",
    "PERFORMANCE_OF_CONTRACT",
    "PROCESS_AND_STORE",
}
BUILTIN_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "country",
    "hs_email_optout",
    "hs_legal_basis",
    "lastmodifieddate",
    "createdate",
    "hs_object_id",
]
READ_ONLY = {"hs_email_optout", "lastmodifieddate", "createdate", "hs_object_id"}
SUBSCRIPTIONS = [
    {"id": 101, "name": "Marketing Information", "description": "Offers and news"},
    {"id": 102, "name": "Newsletter", "description": "Monthly newsletter"},
]


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error(status: int, category: str, message: str, **extra) -> Response:
    response = jsonify(
        {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}
    )
    response.status_code = status
    return response


def _initial() -> dict:
    return {
        "contacts": {},
        "next_id": 1001,
        "properties": {
            name: {
                "name": name,
                "label": name,
                "type": "string",
                "fieldType": "text",
                "groupName": "contactinformation",
                "hubspotDefined": True,
            }
            for name in BUILTIN_PROPERTIES
        },
        "subscriptions": {},
        "webhook_settings": None,
        "webhook_subscriptions": {},
    }


class HubSpotSandbox:
    def __init__(
        self,
        state_path=None,
        *,
        access_token=DEFAULT_TOKEN,
        client_secret=DEFAULT_CLIENT_SECRET,
        rate_limit=(190, 10.0),
        search_rate=(4, 1.0),
    ):
        self.state = StateFile(state_path, _initial)
        self.tokens = {access_token}
        self.refresh_tokens = {"sandbox-refresh-token"}
        self.client_secret = client_secret
        self.rate_limit, self.search_rate = rate_limit, search_rate
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.calls: dict[str, int] = {}
        self.dispatcher = WebhookDispatcher()
        self.pending_events: list[dict] = []
        self.pending_lock = threading.Lock()
        threading.Thread(target=self._flush_loop, daemon=True, name="hubspot-batcher").start()

    @property
    def data(self) -> dict:
        return self.state.data

    # -- contacts --------------------------------------------------------------------------------------------

    def by_email(self, email: str) -> dict | None:
        wanted = email.strip().lower()
        return next(
            (
                c
                for c in self.data["contacts"].values()
                if not c["archived"] and c["properties"].get("email", "").lower() == wanted
            ),
            None,
        )

    def create(self, properties: dict) -> dict:
        contact_id = str(self.data["next_id"])
        self.data["next_id"] += 1
        stamp = now_ms()
        contact = {
            "id": contact_id,
            "properties": {
                "hs_email_optout": "false",
                **properties,
                "hs_object_id": contact_id,
                "createdate": iso(stamp),
                "lastmodifieddate": iso(stamp),
            },
            "createdAt": iso(stamp),
            "updatedAt": iso(stamp),
            "archived": False,
            "_modified": stamp,
        }
        self.data["contacts"][contact_id] = contact
        return contact

    def touch(self, contact: dict) -> None:
        stamp = max(now_ms(), contact["_modified"] + 1)
        contact["_modified"] = stamp
        contact["updatedAt"] = contact["properties"]["lastmodifieddate"] = iso(stamp)

    def view(self, contact: dict, properties: list[str] | None = None) -> dict:
        wanted = properties or ["email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"]
        shown = {name: contact["properties"].get(name) for name in wanted}
        return {
            "id": contact["id"],
            "properties": shown,
            "createdAt": contact["createdAt"],
            "updatedAt": contact["updatedAt"],
            "archived": contact["archived"],
        }

    # -- subscriptions ----------------------------------------------------------------------------------------

    def statuses(self, email: str) -> dict:
        return self.data["subscriptions"].setdefault(email.lower(), {"opted_out_all": False, "by_id": {}})

    def set_opt_out_all(self, email: str, value: bool, source: str) -> bool:
        record = self.statuses(email)
        changed = record["opted_out_all"] != value
        record["opted_out_all"] = value
        contact = self.by_email(email)
        if contact is not None and changed:
            contact["properties"]["hs_email_optout"] = "true" if value else "false"
            self.touch(contact)
            self.emit(
                {
                    "subscriptionType": "contact.propertyChange",
                    "objectId": int(contact["id"]),
                    "propertyName": "hs_email_optout",
                    "propertyValue": "true" if value else "false",
                    "changeSource": source,
                }
            )
        return changed

    # -- webhooks ----------------------------------------------------------------------------------------------

    def emit(self, event: dict) -> None:
        settings = self.data.get("webhook_settings")
        if not settings:
            return
        for subscription in self.data["webhook_subscriptions"].values():
            if not subscription["active"] or subscription["eventType"] != event["subscriptionType"]:
                continue
            if subscription.get("propertyName") and subscription["propertyName"] != event.get("propertyName"):
                continue
            full = {
                "eventId": uuid.uuid4().int % 10**9,
                "subscriptionId": subscription["id"],
                "portalId": PORTAL_ID,
                "appId": APP_ID,
                "occurredAt": now_ms(),
                "attemptNumber": 0,
                **event,
            }
            with self.pending_lock:
                self.pending_events.append(full)

    def _flush_loop(self) -> None:
        while True:
            time.sleep(0.1)
            with self.pending_lock:
                events, self.pending_events = self.pending_events, []
            settings = self.data.get("webhook_settings")
            if not events or not settings:
                continue
            for start in range(0, len(events), BATCH_LIMIT):
                self._send(settings["targetUrl"], events[start : start + BATCH_LIMIT])

    def _send(self, url: str, events: list[dict]) -> None:
        import json

        body = json.dumps(events).encode()
        stamp = str(now_ms())
        secret = self.client_secret.encode()
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature_v3(secret, "POST", url, body, stamp),
            "X-HubSpot-Request-Timestamp": stamp,
            "X-HubSpot-Signature": signature_v1(secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
        }
        self.dispatcher.send(url, body, headers)


def create_app(
    state_path=None,
    *,
    faults: Faults | None = None,
    access_token: str | None = None,
    client_secret: str | None = None,
    rate_limit=(190, 10.0),
    search_rate=(4, 1.0),
) -> Flask:
    sandbox = HubSpotSandbox(
        state_path,
        access_token=access_token or os.environ.get("CONSENTRY_HUBSPOT_SANDBOX_TOKEN") or DEFAULT_TOKEN,
        client_secret=(
            client_secret or os.environ.get("CONSENTRY_HUBSPOT_SANDBOX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET
        ),
        rate_limit=rate_limit,
        search_rate=search_rate,
    )
    app = Flask(__name__)
    app.extensions["hubspot_sandbox"] = sandbox
    _guard(app, sandbox)
    install_faults(
        app,
        faults or Faults(),
        rate_limited=lambda: _limited(sandbox, "TEN_SECONDLY_ROLLING"),
        server_error=lambda status: error(status, "INTERNAL_ERROR", "Internal error"),
    )
    _contact_routes(app, sandbox)
    _preference_routes(app, sandbox)
    _webhook_routes(app, sandbox)
    _admin_routes(app, sandbox)
    return app


def _limited(sandbox: HubSpotSandbox, policy: str) -> Response:
    message = {
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "SECONDLY": "You have reached your secondly limit.",
    }[policy]
    response = error(429, "RATE_LIMITS", message, errorType="RATE_LIMIT", policyName=policy)
    response.headers["X-HubSpot-RateLimit-Max"] = str(sandbox.rate_limit[0])
    response.headers["X-HubSpot-RateLimit-Remaining"] = "0"
    response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(sandbox.rate_limit[1] * 1000))
    return response


def _over(window: deque, limit: tuple[int, float]) -> bool:
    moment = time.monotonic()
    while window and moment - window[0] >= limit[1]:
        window.popleft()
    if len(window) >= limit[0]:
        return True
    window.append(moment)
    return False


def _guard(app: Flask, sandbox: HubSpotSandbox) -> None:
    @app.before_request
    def _authenticate_and_limit():
        if request.path.startswith("/_sandbox") or request.path == "/oauth/v1/token":
            return None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token not in sandbox.tokens:
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        route = request.url_rule.rule if request.url_rule else request.path
        sandbox.calls[f"{request.method} {route}"] = sandbox.calls.get(f"{request.method} {route}", 0) + 1
        if request.path.endswith("/search") and _over(sandbox.search_window, sandbox.search_rate):
            return _limited(sandbox, "SECONDLY")
        if _over(sandbox.window, sandbox.rate_limit):
            return _limited(sandbox, "TEN_SECONDLY_ROLLING")
        return None

    @app.after_request
    def _quota_headers(response: Response) -> Response:
        if not request.path.startswith("/_sandbox") and response.status_code != 429:
            response.headers["X-HubSpot-RateLimit-Max"] = str(sandbox.rate_limit[0])
            response.headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, sandbox.rate_limit[0] - len(sandbox.window)))
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(sandbox.rate_limit[1] * 1000))
        return response

    @app.post("/oauth/v1/token")
    def token():
        form = request.form
        known = (
            form.get("refresh_token") in sandbox.refresh_tokens and form.get("client_secret") == sandbox.client_secret
        )
        if form.get("grant_type") != "refresh_token" or not known:
            return jsonify({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}), 400
        fresh = f"sandbox-access-{uuid.uuid4().hex}"
        sandbox.tokens.add(fresh)
        return jsonify(
            {"access_token": fresh, "refresh_token": form["refresh_token"], "expires_in": 1800, "token_type": "bearer"}
        )


def _properties_problem(sandbox: HubSpotSandbox, properties: dict) -> str | None:
    for name in properties:
        if name not in sandbox.data["properties"]:
            return f'Property "{name}" does not exist'
        if name in READ_ONLY:
            return f'"{name}" is a read only property; its value cannot be set.'
    return None


def _contact_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    base = "/crm/v3/objects/contacts"

    def find(reference: str, id_property: str | None) -> dict | None:
        if id_property == "email":
            return sandbox.by_email(reference)
        contact = sandbox.data["contacts"].get(reference)
        return contact if contact and not contact["archived"] else None

    def wanted_properties() -> list[str] | None:
        text = request.args.get("properties")
        return text.split(",") if text else None

    @app.get(base)
    def list_contacts():
        limit = min(int(request.args.get("limit", 10)), 100)
        after = int(request.args.get("after", 0))
        live = sorted((c for c in sandbox.data["contacts"].values() if not c["archived"]), key=lambda c: int(c["id"]))
        page = [c for c in live if int(c["id"]) > after][:limit]
        body = {"results": [sandbox.view(c, wanted_properties()) for c in page]}
        if page and int(page[-1]["id"]) < int(live[-1]["id"]):
            body["paging"] = {"next": {"after": page[-1]["id"], "link": f"{request.base_url}?after={page[-1]['id']}"}}
        return jsonify(body)

    @app.post(base)
    def create_contact():
        properties = (request.get_json(silent=True) or {}).get("properties") or {}
        problem = _properties_problem(sandbox, properties)
        if problem:
            return error(400, "VALIDATION_ERROR", problem)
        with sandbox.state.lock:
            if properties.get("email") and sandbox.by_email(properties["email"]):
                return error(409, "CONFLICT", "Contact already exists.")
            contact = sandbox.create(properties)
            sandbox.state.save()
        return jsonify(sandbox.view(contact)), 201

    @app.route(f"{base}/<reference>", methods=["GET", "PATCH", "DELETE"])
    def contact(reference):
        with sandbox.state.lock:
            found = find(reference, request.args.get("idProperty"))
            if found is None:
                return error(404, "OBJECT_NOT_FOUND", "resource not found")
            if request.method == "GET":
                return jsonify(sandbox.view(found, wanted_properties()))
            if request.method == "DELETE":
                found["archived"] = True
                sandbox.state.save()
                return Response(status=204)
            properties = (request.get_json(silent=True) or {}).get("properties") or {}
            problem = _properties_problem(sandbox, properties)
            if problem:
                return error(400, "VALIDATION_ERROR", problem)
            found["properties"].update(properties)
            sandbox.touch(found)
            sandbox.state.save()
            return jsonify(sandbox.view(found))

    def batch_inputs():
        inputs = (request.get_json(silent=True) or {}).get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return None, error(400, "VALIDATION_ERROR", "inputs must be a non-empty list")
        if len(inputs) > BATCH_LIMIT:
            return None, error(400, "VALIDATION_ERROR", f"Batch input limit exceeded: at most {BATCH_LIMIT} inputs.")
        return inputs, None

    def batch_answer(results: list, errors: list, *, created: bool = False):
        stamp = iso(now_ms())
        body = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
            return jsonify(body), 207
        return jsonify(body), 201 if created else 200

    def item_error(category: str, message: str, context: dict) -> dict:
        return {"status": "error", "category": category, "message": message, "context": context, "errors": []}

    @app.post(f"{base}/batch/create")
    def batch_create():
        inputs, problem = batch_inputs()
        if problem:
            return problem
        results, errors = [], []
        with sandbox.state.lock:
            for entry in inputs:
                properties = entry.get("properties") or {}
                bad = _properties_problem(sandbox, properties)
                if bad or (properties.get("email") and sandbox.by_email(properties["email"])):
                    category = "VALIDATION_ERROR" if bad else "CONFLICT"
                    context = {"email": [properties.get("email", "")]}
                    errors.append(item_error(category, bad or "Contact already exists.", context))
                    continue
                results.append(sandbox.view(sandbox.create(properties)))
            sandbox.state.save()
        return batch_answer(results, errors, created=True)

    @app.post(f"{base}/batch/read")
    def batch_read():
        body = request.get_json(silent=True) or {}
        inputs, problem = batch_inputs()
        if problem:
            return problem
        results, errors = [], []
        for entry in inputs:
            found = find(str(entry.get("id")), body.get("idProperty"))
            if found is None:
                errors.append(
                    item_error(
                        "OBJECT_NOT_FOUND", "Could not get some CONTACT objects", {"ids": [str(entry.get("id"))]}
                    )
                )
            else:
                results.append(sandbox.view(found, body.get("properties")))
        return batch_answer(results, errors)

    @app.post(f"{base}/batch/update")
    def batch_update():
        inputs, problem = batch_inputs()
        if problem:
            return problem
        results, errors = [], []
        with sandbox.state.lock:
            for entry in inputs:
                found = find(str(entry.get("id")), entry.get("idProperty"))
                properties = entry.get("properties") or {}
                bad = _properties_problem(sandbox, properties)
                if found is None or bad:
                    errors.append(
                        item_error(
                            "OBJECT_NOT_FOUND" if found is None else "VALIDATION_ERROR",
                            bad or "Could not find object",
                            {"ids": [str(entry.get("id"))]},
                        )
                    )
                    continue
                found["properties"].update(properties)
                sandbox.touch(found)
                results.append(sandbox.view(found))
            sandbox.state.save()
        return batch_answer(results, errors)

    @app.post(f"{base}/batch/upsert")
    def batch_upsert():
        inputs, problem = batch_inputs()
        if problem:
            return problem
        results, errors = [], []
        with sandbox.state.lock:
            for entry in inputs:
                properties = entry.get("properties") or {}
                bad = _properties_problem(sandbox, properties)
                if bad or entry.get("idProperty") != "email":
                    errors.append(
                        item_error(
                            "VALIDATION_ERROR", bad or "idProperty must be email", {"ids": [str(entry.get("id"))]}
                        )
                    )
                    continue
                found = sandbox.by_email(str(entry["id"]))
                new = found is None
                if new:
                    found = sandbox.create({"email": str(entry["id"]), **properties})
                else:
                    found["properties"].update(properties)
                    sandbox.touch(found)
                results.append({**sandbox.view(found), "new": new})
            sandbox.state.save()
        return batch_answer(results, errors)

    @app.post(f"{base}/batch/archive")
    def batch_archive():
        inputs, problem = batch_inputs()
        if problem:
            return problem
        with sandbox.state.lock:
            for entry in inputs:
                found = find(str(entry.get("id")), None)
                if found:
                    found["archived"] = True
            sandbox.state.save()
        return Response(status=204)

    @app.post(f"{base}/search")
    def search():
        body = request.get_json(silent=True) or {}
        limit = int(body.get("limit", 10))
        if limit > SEARCH_LIMIT:
            return error(400, "VALIDATION_ERROR", f"limit may be at most {SEARCH_LIMIT}")
        matches = [
            c
            for c in sandbox.data["contacts"].values()
            if not c["archived"] and _matches(c, body.get("filterGroups") or [])
        ]
        for sort in reversed(body.get("sorts") or [{"propertyName": "hs_object_id"}]):
            name = sort.get("propertyName")
            matches.sort(key=lambda c, n=name: _sort_key(c, n), reverse=sort.get("direction") == "DESCENDING")
        after = int(body.get("after", 0))
        page = matches[after : after + limit]
        answer = {"total": len(matches), "results": [sandbox.view(c, body.get("properties")) for c in page]}
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return jsonify(answer)

    @app.post(f"{base}/gdpr-delete")
    def gdpr_delete():
        body = request.get_json(silent=True) or {}
        with sandbox.state.lock:
            found = find(str(body.get("objectId")), body.get("idProperty"))
            if found is not None:
                del sandbox.data["contacts"][found["id"]]
                sandbox.emit(
                    {
                        "subscriptionType": "contact.privacyDeletion",
                        "objectId": int(found["id"]),
                        "changeSource": "GDPR",
                    }
                )
                sandbox.emit(
                    {"subscriptionType": "contact.deletion", "objectId": int(found["id"]), "changeSource": "GDPR"}
                )
            sandbox.state.save()
        return Response(status=204)

    @app.route("/crm/v3/properties/contacts", methods=["GET", "POST"])
    def properties():
        if request.method == "GET":
            return jsonify({"results": list(sandbox.data["properties"].values())})
        body = request.get_json(silent=True) or {}
        if not body.get("name") or not body.get("type") or not body.get("groupName"):
            return error(400, "VALIDATION_ERROR", "name, label, type, fieldType and groupName are required")
        with sandbox.state.lock:
            if body["name"] in sandbox.data["properties"]:
                return error(409, "OBJECT_ALREADY_EXISTS", f"A property named '{body['name']}' already exists.")
            sandbox.data["properties"][body["name"]] = {**body, "hubspotDefined": False}
            sandbox.state.save()
        return jsonify(sandbox.data["properties"][body["name"]]), 201

    @app.get("/crm/v3/properties/contacts/<name>")
    def property_(name):
        found = sandbox.data["properties"].get(name)
        return jsonify(found) if found else error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")


def _sort_key(contact: dict, name: str):
    return contact["_modified"] if name == "lastmodifieddate" else str(contact["properties"].get(name))


def _matches(contact: dict, groups: list) -> bool:
    if not groups:
        return True
    return any(all(_test(contact, f) for f in group.get("filters", [])) for group in groups)


def _test(contact: dict, rule: dict) -> bool:
    name, operator, value = rule.get("propertyName"), rule.get("operator"), rule.get("value")
    if name == "lastmodifieddate":
        actual, value = contact["_modified"], int(value)
    else:
        actual = contact["properties"].get(name)
    return {
        "EQ": lambda: actual == value,
        "NEQ": lambda: actual != value,
        "GT": lambda: actual > value,
        "GTE": lambda: actual >= value,
        "LT": lambda: actual < value,
        "LTE": lambda: actual <= value,
        "HAS_PROPERTY": lambda: actual not in (None, ""),
    }.get(operator, lambda: False)()


def _public_status(email: str, subscription: dict, state: str, source: str, legal_basis=None) -> dict:
    return {
        "subscriberIdString": email,
        "subscriptionId": subscription["id"],
        "channel": "EMAIL",
        "status": state,
        "source": source,
        "timestamp": iso(now_ms()),
        "subscriptionName": subscription["name"],
        "legalBasis": legal_basis,
        "legalBasisExplanation": None,
    }


def _preference_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    by_id = {s["id"]: s for s in SUBSCRIPTIONS}

    def state_of(email: str, subscription_id: int) -> str:
        record = sandbox.statuses(email)
        if record["opted_out_all"]:
            return "UNSUBSCRIBED"
        return record["by_id"].get(str(subscription_id), "NOT_SPECIFIED")

    def envelope(results, errors=None):
        stamp = iso(now_ms())
        body = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        if errors:
            body.update(errors=errors, numErrors=len(errors))
        return jsonify(body)

    @app.get("/communication-preferences/v3/definitions")
    def definitions_v3():
        return jsonify(
            {
                "subscriptionDefinitions": [
                    {**s, "isActive": True, "isDefault": s["id"] == 101, "isInternal": False} for s in SUBSCRIPTIONS
                ]
            }
        )

    @app.get("/communication-preferences/v4/definitions")
    def definitions_v4():
        return envelope(
            [{**s, "isActive": True, "isDefault": s["id"] == 101, "isInternal": False} for s in SUBSCRIPTIONS]
        )

    @app.get("/communication-preferences/v3/status/email/<email>")
    def status_v3(email):
        statuses = [
            {
                **s,
                "status": "SUBSCRIBED" if state_of(email, s["id"]) == "SUBSCRIBED" else "NOT_SUBSCRIBED",
                "sourceOfStatus": "PORTAL_WIDE_STATUS"
                if sandbox.statuses(email)["opted_out_all"]
                else "SUBSCRIPTION_STATUS",
            }
            for s in SUBSCRIPTIONS
        ]
        return jsonify({"recipient": email, "subscriptionStatuses": statuses})

    @app.post("/communication-preferences/v3/<action>")
    def change_v3(action):
        if action not in ("subscribe", "unsubscribe"):
            return error(404, "OBJECT_NOT_FOUND", "not found")
        body = request.get_json(silent=True) or {}
        email, subscription = body.get("emailAddress"), by_id.get(body.get("subscriptionId"))
        if not email or subscription is None:
            return error(400, "VALIDATION_ERROR", "emailAddress and a known subscriptionId are required")
        with sandbox.state.lock:
            record = sandbox.statuses(email)
            if action == "subscribe":
                if record["opted_out_all"] or record["by_id"].get(str(subscription["id"])) == "UNSUBSCRIBED":
                    return error(
                        400,
                        "VALIDATION_ERROR",
                        f"{email} is already unsubscribed from "
                        f"{subscription['name']} and cannot be resubscribed with this API",
                    )
                record["by_id"][str(subscription["id"])] = "SUBSCRIBED"
            else:
                record["by_id"][str(subscription["id"])] = "UNSUBSCRIBED"
            sandbox.state.save()
        state = "SUBSCRIBED" if action == "subscribe" else "NOT_SUBSCRIBED"
        basis = {"legalBasis": body.get("legalBasis"), "legalBasisExplanation": body.get("legalBasisExplanation")}
        return jsonify({**subscription, "status": state, "sourceOfStatus": "SUBSCRIPTION_STATUS", **basis})

    def write_one(entry: dict):
        email, subscription = entry.get("subscriberIdString"), by_id.get(entry.get("subscriptionId"))
        state, basis = entry.get("statusState"), entry.get("legalBasis")
        if (
            not email
            or subscription is None
            or entry.get("channel") != "EMAIL"
            or state not in ("SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED")
        ):
            return None, "invalid input"
        if state == "SUBSCRIBED" and basis not in LEGAL_BASES:
            return None, "A legal basis is required to subscribe a contact"
        record = sandbox.statuses(email)
        if state == "SUBSCRIBED" and record["opted_out_all"]:
            sandbox.set_opt_out_all(email, False, "API")
        record["by_id"][str(subscription["id"])] = state
        return _public_status(email, subscription, state, "API", basis), None

    @app.post("/communication-preferences/v4/statuses/<email>")
    def write_v4(email):
        with sandbox.state.lock:
            result, problem = write_one({**(request.get_json(silent=True) or {}), "subscriberIdString": email})
            sandbox.state.save()
        return error(400, "VALIDATION_ERROR", problem) if problem else envelope([result])

    @app.get("/communication-preferences/v4/statuses/<email>")
    def read_v4(email):
        if request.args.get("channel") != "EMAIL":
            return error(400, "VALIDATION_ERROR", "channel=EMAIL is required")
        return envelope([_public_status(email, s, state_of(email, s["id"]), "API") for s in SUBSCRIPTIONS])

    @app.route("/communication-preferences/v4/statuses/<email>/unsubscribe-all", methods=["GET", "POST"])
    def unsubscribe_all(email):
        if request.args.get("channel") != "EMAIL":
            return error(400, "VALIDATION_ERROR", "channel=EMAIL is required")
        with sandbox.state.lock:
            if request.method == "POST":
                sandbox.set_opt_out_all(email, True, "API")
                sandbox.state.save()
            opted = sandbox.statuses(email)["opted_out_all"]
        wide = (
            [
                {
                    "subscriberIdString": email,
                    "channel": "EMAIL",
                    "status": "UNSUBSCRIBED",
                    "timestamp": iso(now_ms()),
                    "wideStatusType": "PORTAL_WIDE",
                }
            ]
            if opted
            else []
        )
        return envelope(wide)

    def batch_inputs():
        inputs = (request.get_json(silent=True) or {}).get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return None, error(400, "VALIDATION_ERROR", "inputs must be a non-empty list")
        if len(inputs) > BATCH_LIMIT:
            return None, error(400, "VALIDATION_ERROR", f"at most {BATCH_LIMIT} inputs")
        return inputs, None

    @app.post("/communication-preferences/v4/statuses/batch/read")
    def batch_read_v4():
        inputs, problem = batch_inputs()
        if problem:
            return problem
        return envelope(
            [
                {
                    "subscriberIdString": email,
                    "statuses": [_public_status(email, s, state_of(email, s["id"]), "API") for s in SUBSCRIPTIONS],
                }
                for email in inputs
            ]
        )

    @app.post("/communication-preferences/v4/statuses/batch/write")
    def batch_write_v4():
        inputs, problem = batch_inputs()
        if problem:
            return problem
        results, errors = [], []
        with sandbox.state.lock:
            for entry in inputs:
                result, issue = write_one(entry)
                if issue:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": issue})
                else:
                    results.append(result)
            sandbox.state.save()
        return envelope(results, errors)

    @app.post("/communication-preferences/v4/statuses/batch/unsubscribe-all")
    def batch_unsubscribe_all():
        if request.args.get("channel") != "EMAIL":
            return error(400, "VALIDATION_ERROR", "channel=EMAIL is required")
        inputs, problem = batch_inputs()
        if problem:
            return problem
        with sandbox.state.lock:
            for email in inputs:
                sandbox.set_opt_out_all(str(email), True, "API")
            sandbox.state.save()
        return envelope([{"subscriberIdString": email, "statuses": []} for email in inputs])


def _webhook_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    @app.route("/webhooks/v3/<int:app_id>/settings", methods=["GET", "PUT", "DELETE"])
    def settings(app_id):
        if request.method == "PUT":
            body = request.get_json(silent=True) or {}
            if not body.get("targetUrl") or not isinstance(body.get("throttling"), dict):
                return error(400, "VALIDATION_ERROR", "targetUrl and throttling are required")
            sandbox.data["webhook_settings"] = {
                "targetUrl": body["targetUrl"],
                "throttling": body["throttling"],
                "createdAt": iso(now_ms()),
            }
            sandbox.state.save()
        elif request.method == "DELETE":
            sandbox.data["webhook_settings"] = None
            return Response(status=204)
        found = sandbox.data["webhook_settings"]
        return jsonify(found) if found else error(404, "OBJECT_NOT_FOUND", "No settings for this app")

    @app.route("/webhooks/v3/<int:app_id>/subscriptions", methods=["GET", "POST"])
    def subscriptions(app_id):
        if request.method == "GET":
            return jsonify({"results": list(sandbox.data["webhook_subscriptions"].values())})
        body = request.get_json(silent=True) or {}
        if not str(body.get("eventType", "")).startswith("contact."):
            return error(400, "VALIDATION_ERROR", "unsupported eventType")
        subscription_id = len(sandbox.data["webhook_subscriptions"]) + 1
        record = {
            "id": subscription_id,
            "eventType": body["eventType"],
            "propertyName": body.get("propertyName"),
            "active": bool(body.get("active", False)),
            "createdAt": iso(now_ms()),
        }
        sandbox.data["webhook_subscriptions"][str(subscription_id)] = record
        sandbox.state.save()
        return jsonify(record), 201


def _admin_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    @app.post("/_sandbox/contacts/seed")
    def seed():
        """Contacts as they would already exist: {"contacts": [{"email": ..., "opted_out": false, ...}]}."""
        with sandbox.state.lock:
            for entry in (request.get_json(force=True) or {}).get("contacts", []):
                properties = {k: str(v) for k, v in entry.items() if k != "opted_out"}
                contact = sandbox.create(properties)
                if entry.get("opted_out"):
                    sandbox.statuses(properties["email"])["opted_out_all"] = True
                    contact["properties"]["hs_email_optout"] = "true"
            sandbox.state.save()
        return jsonify({"contacts": len(sandbox.data["contacts"])})

    @app.post("/_sandbox/contacts/unsubscribe")
    def unsubscribe_in_ui():
        """What a recipient (or a user in HubSpot's UI) does: {"email": ..., "source": "EMAIL"|"CRM_UI"}."""
        body = request.get_json(force=True) or {}
        with sandbox.state.lock:
            changed = sandbox.set_opt_out_all(body["email"], True, body.get("source", "EMAIL"))
            sandbox.state.save()
        return jsonify({"changed": changed})

    @app.get("/_sandbox/deliveries")
    def deliveries():
        return jsonify({"deliveries": sandbox.dispatcher.log, "pending": sandbox.dispatcher.pending()})

    @app.get("/_sandbox/calls")
    def calls():
        return jsonify({"calls": sandbox.calls, "total": sum(sandbox.calls.values())})

    @app.get("/_sandbox/opted-out/<email>")
    def opted_out(email):
        return jsonify({"opted_out": sandbox.statuses(email)["opted_out_all"]})
