"""Admin endpoints under /_sandbox/ (no authentication, loopback only, never counted as API calls): seed records
as they already exist, act as a Salesforce user editing a record (which fires outbound messages like any edit),
hold records' rows as another transaction would (`locks`), point the outbound message at an endpoint, and read
the records, the delivery log and the call counters; plus session helpers for tests (mint one, expire them all),
the org's settings and resets. Fault injection is `/_sandbox/faults` (kit).
"""

from flask import Blueprint, current_app, jsonify, request

from consentry.connectors.sandbox_kit import ADMIN_PREFIX, is_loopback_url

from .errors import RecordRefused, SalesforceError, json_body

blueprint = Blueprint("salesforce_admin", __name__, url_prefix=ADMIN_PREFIX)


def _sandbox():
    return current_app.extensions["salesforce_sandbox"]


@blueprint.post("/seed")
def seed():
    """`{"Contact": [{"LastName": ..., "Email": ...}], "Lead": [...], ...}`: records as they already exist (no
    outbound message). The DML rules apply; CreatedDate, LastModifiedDate and SystemModstamp may be given."""
    sandbox = _sandbox()
    body = json_body()
    created: dict[str, list[str]] = {}
    with sandbox.state.lock:
        org = sandbox.org
        planned = []
        for type_name, entries in body.items():
            sobject = org.sobject(type_name)
            if sobject is None or not isinstance(entries, list):
                raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
            for entry in entries:
                values = org.parse_json(sobject, entry)
                problems = org.check_create(sobject, values, seeding=True)
                if problems:
                    raise RecordRefused(problems)
                planned.append((sobject, values))
        for sobject, values in planned:
            created.setdefault(sobject.name, []).append(org.create(sobject, values, origin="seed")["Id"])
        sandbox.state.save()
        total = sum(1 for r in org.records.values() if not r["IsDeleted"])
    return jsonify({"created": sum(map(len, created.values())), "ids": created, "records": total})


@blueprint.post("/ui-change")
def ui_change():
    """A user editing records in Salesforce: `{"email": ...}` (every Contact and Lead with it) or `{"id": ...}`,
    and `{"fields": {"HasOptedOutOfEmail": true}}`. Fires outbound messages as a user's edit does."""
    sandbox = _sandbox()
    body = json_body()
    fields = body.get("fields") or {}
    with sandbox.state.lock:
        org = sandbox.org
        if body.get("id"):
            found = org.get(str(body["id"]))
            targets = [found] if found is not None and not found["IsDeleted"] else []
        else:
            email = str(body.get("email") or "").lower()
            targets = [
                r
                for name in ("Contact", "Lead")
                for r in org.rows(org.schema[name])
                if email and str(r.get("Email") or "").lower() == email
            ]
        planned = []
        for record in targets:
            values = org.parse_json(org.schema[record["_type"]], fields)
            problems = org.check_update(record, values)
            if problems:
                raise RecordRefused(problems)
            planned.append((record, values))
        for record, values in planned:
            org.update(record, values, origin="ui")
        sandbox.state.save()
    return jsonify({"changed": len(planned), "ids": [record["Id"] for record, _ in planned]})


@blueprint.get("/records")
def records():
    sandbox = _sandbox()
    wanted = request.args.get("type")
    deleted = request.args.get("deleted") == "true"
    with sandbox.state.lock:
        org = sandbox.org
        rows = [
            org.view(r, sandbox.api_version)
            for r in org.records.values()
            if (not wanted or r["_type"].lower() == wanted.lower()) and (deleted or not r["IsDeleted"])
        ]
    return jsonify({"records": rows})


@blueprint.route("/outbound", methods=["GET", "POST"])
def outbound():
    """The outbound message's endpoint URL (loopback only): `{"url": "http://127.0.0.1:8000/hook"}` or null."""
    sandbox = _sandbox()
    if request.method == "POST":
        url = json_body().get("url")
        if url is not None and not (isinstance(url, str) and is_loopback_url(url)):
            raise SalesforceError(400, "INVALID_FIELD", "the outbound endpoint must be a loopback URL")
        with sandbox.state.lock:
            sandbox.state.data["outbound_url"] = url
            sandbox.state.save()
    return jsonify({"url": sandbox.state.data.get("outbound_url")})


@blueprint.route("/settings", methods=["GET", "POST"])
def settings():
    """The org's settings: `{"bulk_api_hard_delete": true, "individual_outbound": false}` (booleans, either)."""
    sandbox = _sandbox()
    if request.method == "POST":
        wanted = json_body()
        unknown = sorted(set(wanted) - set(sandbox.settings))
        if unknown or not all(isinstance(value, bool) for value in wanted.values()):
            raise SalesforceError(400, "INVALID_FIELD", f"settings are booleans among {sorted(sandbox.settings)}")
        sandbox.settings.update(wanted)
    return jsonify(sandbox.settings)


@blueprint.route("/locks", methods=["GET", "POST"])
def locks():
    """Rows another transaction holds: `{"ids": [...], "locked": true}` (false releases them). An edit or a delete
    of a held record, through any API, fails UNABLE_TO_LOCK_ROW until it is released."""
    sandbox = _sandbox()
    if request.method == "POST":
        body = json_body()
        ids, locked = body.get("ids"), body.get("locked", True)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not isinstance(locked, bool):
            raise SalesforceError(400, "INVALID_FIELD", "ids is a list of record ids and locked a boolean")
        with sandbox.state.lock:
            found = [sandbox.org.get(i) for i in ids]
            if any(record is None for record in found):
                raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            chosen = {record["Id"] for record in found if record is not None}
            if locked:
                sandbox.org.locked |= chosen
            else:
                sandbox.org.locked -= chosen
    return jsonify({"locked": sorted(sandbox.org.locked)})


@blueprint.post("/outbound/flush")
def flush():
    return jsonify(_sandbox().outbound.flush())


@blueprint.get("/deliveries")
def deliveries():
    messenger = _sandbox().outbound
    return jsonify(
        {
            "deliveries": messenger.deliveries(),
            "queued": messenger.queued(),
            "pending": messenger.dispatcher.pending(),
            "dropped": messenger.dropped,
        }
    )


@blueprint.get("/calls")
def calls():
    sandbox = _sandbox()
    counted = sandbox.calls.snapshot()
    return jsonify(
        {"calls": counted, "total": sum(counted.values()), "used": sandbox.limits.used(), "max": sandbox.limits.maximum}
    )


@blueprint.post("/calls/reset")
def reset_calls():
    _sandbox().calls.reset()
    return jsonify({"calls": {}, "total": 0})


@blueprint.post("/limits/reset")
def reset_limits():
    _sandbox().limits.reset()
    return jsonify({"used": 0})


@blueprint.post("/token")
def mint():
    """A session for tests that do not exercise OAuth."""
    sandbox = _sandbox()
    session = sandbox.tokens.issue(username=sandbox.run_as, client_id=sandbox.client_id)
    return jsonify({"access_token": session.token, "instance_url": request.host_url.rstrip("/")})


@blueprint.post("/tokens/expire")
@blueprint.post("/expire-tokens")
def expire():
    """Ends every session now (or only `{"token": ...}`), so clients meet 401 INVALID_SESSION_ID and log in again."""
    sandbox = _sandbox()
    token = (request.get_json(silent=True) or {}).get("token")
    count = int(sandbox.tokens.revoke(token)) if token else sandbox.tokens.expire_all()
    return jsonify({"expired": count})
