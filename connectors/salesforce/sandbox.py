"""A local, stateful Salesforce org for tests and the demo (facts: vendors/CONTRACTS.md §3).

OAuth (JWT bearer verified against a configured certificate, client credentials), SOQL for the subset in
`soql.py` with `nextRecordsUrl` paging, sObject CRUD and upsert by external id, sObject Collections (200 records),
Bulk API 2.0 ingest jobs with their state machine, Salesforce's error arrays, `Sforce-Limit-Info` and a daily limit,
and Outbound Messages (SOAP) when an opt-out field changes, retried until acknowledged.
"""

import csv
import io
import os
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime

import jwt
from flask import Flask, Response, jsonify, request

from connectors.sandbox_kit import Faults, StateFile, WebhookDispatcher, install_faults

from . import outbound, soql

DEFAULT_ORG_ID = "00D5g000000SANDBX"
DEFAULT_CLIENT_ID = "3MVG9sandbox-consumer-key"
DEFAULT_CLIENT_SECRET = "salesforce-sandbox-client-secret"
OBJECTS = {"Contact": "003", "Lead": "00Q"}
OPT_OUT_FIELDS = ("HasOptedOutOfEmail", "DoNotCall", "HasOptedOutOfFax")
FIELDS = {
    "Id",
    "Email",
    "FirstName",
    "LastName",
    "Phone",
    "MobilePhone",
    "Company",
    "MailingCountry",
    "Country",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "HasOptedOutOfFax",
    "IndividualId",
    "SystemModstamp",
    "LastModifiedDate",
    "CreatedDate",
    "Consentry_Key__c",
    "Consentry_Status__c",
}
BOOLEAN_FIELDS = set(OPT_OUT_FIELDS)
COLLECTION_LIMIT = 200


def sf_time(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    response = jsonify([{"message": message, "errorCode": code, "fields": fields or []}])
    response.status_code = status
    return response


class SalesforceSandbox:
    def __init__(
        self,
        state_path=None,
        *,
        org_id=DEFAULT_ORG_ID,
        daily_limit=15000,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        public_key_pem=None,
        outbound_url=None,
        page_size=2000,
    ):
        self.state = StateFile(state_path, lambda: {"records": {}, "sequence": 1, "outbound_url": outbound_url})
        self.org_id, self.daily_limit = org_id, daily_limit
        self.client_id, self.client_secret, self.public_key_pem = client_id, client_secret, public_key_pem
        self.page_size = page_size
        self.tokens: set[str] = set()
        self.used = 0
        self.calls: dict[str, int] = {}
        self.cursors: dict[str, list[dict]] = {}
        self.jobs: dict[str, dict] = {}
        self.dispatcher = WebhookDispatcher(backoff=lambda attempt: min(0.2 * 2**attempt, 3.0))
        self.lock = threading.RLock()

    @property
    def records(self) -> dict:
        return self.state.data["records"]

    def new_id(self, object_type: str) -> str:
        number = self.state.data["sequence"]
        self.state.data["sequence"] += 1
        return f"{OBJECTS[object_type]}5g{number:010d}AAA"[:18]

    def create(self, object_type: str, fields: dict, *, notify: bool = True) -> dict:
        stamp = sf_time()
        record = (
            {name: False for name in BOOLEAN_FIELDS}
            | fields
            | {
                "Id": self.new_id(object_type),
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "_type": object_type,
            }
        )
        self.records[record["Id"]] = record
        if notify and any(record.get(name) for name in OPT_OUT_FIELDS):
            self.notify([record])
        return record

    def update(self, record: dict, fields: dict, *, notify: bool = True) -> None:
        before = {name: record.get(name) for name in OPT_OUT_FIELDS}
        record.update(fields)
        stamp = sf_time()
        record["LastModifiedDate"] = record["SystemModstamp"] = stamp
        if notify and any(bool(record.get(name)) and not before[name] for name in OPT_OUT_FIELDS):
            self.notify([record])

    def view(self, record: dict, fields: list[str] | None = None) -> dict:
        version = "v60.0"
        shown = {name: record.get(name) for name in (fields or [n for n in record if not n.startswith("_")])}
        return {
            "attributes": {
                "type": record["_type"],
                "url": f"/services/data/{version}/sobjects/{record['_type']}/{record['Id']}",
            },
            **shown,
        }

    def notify(self, changed: list[dict]) -> None:
        url = self.state.data.get("outbound_url")
        if not url:
            return
        for start in range(0, len(changed), 100):
            chunk = changed[start : start + 100]
            items = [
                (
                    f"04l5g{uuid.uuid4().hex[:13]}",
                    record["_type"],
                    {name: record.get(name) for name in ("Id", "Email", *OPT_OUT_FIELDS, "SystemModstamp")},
                )
                for record in chunk
            ]
            body = outbound.envelope(self.org_id, "04k5g000000ACTION", items)
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
            self.dispatcher.send(url, body, headers, accepts=lambda answer: outbound.acknowledged(answer.text))


def create_app(
    state_path=None,
    *,
    faults: Faults | None = None,
    org_id=DEFAULT_ORG_ID,
    daily_limit=15000,
    client_id=None,
    client_secret=None,
    public_key_pem=None,
    outbound_url=None,
    page_size=2000,
) -> Flask:
    sandbox = SalesforceSandbox(
        state_path,
        org_id=org_id,
        daily_limit=daily_limit,
        client_id=client_id or DEFAULT_CLIENT_ID,
        client_secret=client_secret
        or os.environ.get("CONSENTRY_SALESFORCE_SANDBOX_CLIENT_SECRET")
        or DEFAULT_CLIENT_SECRET,
        public_key_pem=public_key_pem,
        outbound_url=outbound_url,
        page_size=page_size,
    )
    app = Flask(__name__)
    app.extensions["salesforce_sandbox"] = sandbox
    app.url_map.strict_slashes = False  # simple-salesforce adds a trailing slash to collection URLs
    _guard(app, sandbox)
    install_faults(
        app,
        faults or Faults(),
        rate_limited=lambda: errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        server_error=lambda status: errors(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred."),
        applies_to=lambda path: path.startswith("/services/data/"),
    )
    _oauth(app, sandbox)
    _rest(app, sandbox)
    _bulk(app, sandbox)
    _admin(app, sandbox)
    return app


def _guard(app: Flask, sandbox: SalesforceSandbox) -> None:
    @app.before_request
    def _session_and_limit():
        if not request.path.startswith("/services/data/"):
            return None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("OAuth ").strip()
        if token not in sandbox.tokens:
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with sandbox.lock:
            if sandbox.used >= sandbox.daily_limit:
                return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            sandbox.used += 1
            route = request.url_rule.rule if request.url_rule else request.path
            sandbox.calls[f"{request.method} {route}"] = sandbox.calls.get(f"{request.method} {route}", 0) + 1
        return None

    @app.after_request
    def _limit_info(response: Response) -> Response:
        if request.path.startswith("/services/data/"):
            response.headers["Sforce-Limit-Info"] = f"api-usage={sandbox.used}/{sandbox.daily_limit}"
        return response


def _oauth(app: Flask, sandbox: SalesforceSandbox) -> None:
    @app.post("/services/oauth2/token")
    def token():
        form = request.form
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if form.get("client_id") != sandbox.client_id or form.get("client_secret") != sandbox.client_secret:
                return jsonify({"error": "invalid_client", "error_description": "invalid client credentials"}), 400
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if not sandbox.public_key_pem:
                return jsonify({"error": "invalid_grant", "error_description": "no certificate configured"}), 400
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    sandbox.public_key_pem,
                    algorithms=["RS256"],
                    audience=[
                        "https://login.salesforce.com",
                        "https://test.salesforce.com",
                        request.host_url.rstrip("/"),
                    ],
                    options={"require": ["exp", "iss", "sub"]},
                )
            except jwt.PyJWTError:
                return jsonify({"error": "invalid_grant", "error_description": "invalid assertion"}), 400
            if claims["iss"] != sandbox.client_id:
                return jsonify({"error": "invalid_client_id", "error_description": "client identifier invalid"}), 400
        else:
            return jsonify({"error": "unsupported_grant_type", "error_description": "grant type not supported"}), 400
        access = f"{sandbox.org_id}!{secrets.token_urlsafe(24)}"
        sandbox.tokens.add(access)
        return jsonify(
            {
                "access_token": access,
                "instance_url": request.host_url.rstrip("/"),
                "token_type": "Bearer",
                "id": f"{request.host_url}id/{sandbox.org_id}/0055g00000SANDBX",
                "issued_at": str(int(time.time() * 1000)),
                "signature": secrets.token_urlsafe(16),
                "scope": "api",
            }
        )


def _matches(record: dict, conditions) -> bool:
    for field, op, value in conditions:
        actual = record.get(field)
        if field in ("SystemModstamp", "LastModifiedDate", "CreatedDate") and actual:
            actual = datetime.strptime(actual, "%Y-%m-%dT%H:%M:%S.%f%z")
        if isinstance(actual, str) and isinstance(value, str):
            actual, value = actual.lower(), value.lower()
        if op == "IN":
            values = [v.lower() if isinstance(v, str) else v for v in value]
            if actual not in values:
                return False
            continue
        try:
            ok = {"=": actual == value, "!=": actual != value}.get(op)
            if ok is None:
                ok = {"<": actual < value, "<=": actual <= value, ">": actual > value, ">=": actual >= value}[op]
        except TypeError:
            return False
        if not ok:
            return False
    return True


def _rest(app: Flask, sandbox: SalesforceSandbox) -> None:
    base = "/services/data/<version>"

    @app.get(f"{base}/limits")
    def limits(version):
        return jsonify(
            {"DailyApiRequests": {"Max": sandbox.daily_limit, "Remaining": sandbox.daily_limit - sandbox.used}}
        )

    @app.get(f"{base}/query")
    def query(version):
        try:
            parsed = soql.parse(request.args.get("q", ""))
        except soql.MalformedQuery as problem:
            return errors(400, "MALFORMED_QUERY", str(problem))
        if parsed.object not in OBJECTS:
            return errors(400, "INVALID_TYPE", f"sObject type '{parsed.object}' is not supported.")
        unknown = [f for f in parsed.fields + [c[0] for c in parsed.conditions] if f not in FIELDS]
        if unknown:
            return errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{parsed.object}'.")
        with sandbox.lock:
            rows = [
                r for r in sandbox.records.values() if r["_type"] == parsed.object and _matches(r, parsed.conditions)
            ]
        if parsed.order:
            rows.sort(key=lambda r: (r.get(parsed.order) is None, r.get(parsed.order) or ""), reverse=parsed.descending)
        if parsed.limit is not None:
            rows = rows[: parsed.limit]
        views = [sandbox.view(r, parsed.fields) for r in rows]
        return jsonify(_page(sandbox, version, views, 0))

    @app.get(f"{base}/query/<cursor>")
    def more(version, cursor):
        name, _, offset = cursor.rpartition("-")
        views = sandbox.cursors.get(name)
        if views is None or not offset.isdigit():
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return jsonify(_page(sandbox, version, views, int(offset), name))

    @app.route(f"{base}/sobjects/<object_type>", methods=["POST"])
    def create(version, object_type):
        if object_type not in OBJECTS:
            return errors(404, "NOT_FOUND", "The requested resource does not exist")
        body = request.get_json(silent=True) or {}
        problem = _check_fields(object_type, body)
        if problem:
            return problem
        with sandbox.lock:
            record = sandbox.create(object_type, body)
            sandbox.state.save()
        return jsonify({"id": record["Id"], "success": True, "errors": []}), 201

    @app.route(f"{base}/sobjects/<object_type>/<record_id>", methods=["GET", "PATCH", "DELETE"])
    def record_(version, object_type, record_id):
        with sandbox.lock:
            record = sandbox.records.get(record_id)
            if record is None or record["_type"] != object_type:
                return errors(404, "NOT_FOUND", "The requested resource does not exist")
            if request.method == "GET":
                fields = request.args.get("fields")
                return jsonify(sandbox.view(record, fields.split(",") if fields else None))
            if request.method == "DELETE":
                del sandbox.records[record_id]
                sandbox.state.save()
                return Response(status=204)
            body = request.get_json(silent=True) or {}
            problem = _check_fields(object_type, body)
            if problem:
                return problem
            sandbox.update(record, body)
            sandbox.state.save()
        return Response(status=204)

    @app.route(f"{base}/sobjects/<object_type>/<field>/<path:value>", methods=["PATCH"])
    def upsert(version, object_type, field, value):
        if object_type not in OBJECTS or field not in FIELDS:
            return errors(404, "NOT_FOUND", "The requested resource does not exist")
        body = request.get_json(silent=True) or {}
        problem = _check_fields(object_type, body)
        if problem:
            return problem
        with sandbox.lock:
            found = [r for r in sandbox.records.values() if r["_type"] == object_type and str(r.get(field)) == value]
            if len(found) > 1:
                return jsonify([f"/services/data/{version}/sobjects/{object_type}/{r['Id']}" for r in found]), 300
            if found:
                sandbox.update(found[0], body)
                answer = ({"id": found[0]["Id"], "success": True, "errors": [], "created": False}, 200)
            else:
                record = sandbox.create(object_type, {**body, field: value})
                answer = ({"id": record["Id"], "success": True, "errors": [], "created": True}, 201)
            sandbox.state.save()
        return jsonify(answer[0]), answer[1]

    @app.route(f"{base}/composite/sobjects", methods=["POST", "PATCH"])
    def collections(version):
        body = request.get_json(silent=True) or {}
        records = body.get("records")
        if not isinstance(records, list) or not records:
            return errors(400, "INVALID_FIELD", "records are required")
        if len(records) > COLLECTION_LIMIT:
            return errors(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        results = []
        with sandbox.lock:
            for entry in records:
                results.append(_save(sandbox, entry, create=request.method == "POST"))
            if body.get("allOrNone") and not all(r["success"] for r in results):
                return jsonify([{**r, "success": False, "id": None} if r["success"] else r for r in results])
            sandbox.state.save()
        return jsonify(results)

    @app.route(f"{base}/composite/sobjects/<object_type>/<field>", methods=["PATCH"])
    def collection_upsert(version, object_type, field):
        records = (request.get_json(silent=True) or {}).get("records") or []
        if len(records) > COLLECTION_LIMIT:
            return errors(400, "EXCEEDED_ID_LIMIT", "record limit reached")
        results = []
        with sandbox.lock:
            for entry in records:
                fields = {k: v for k, v in entry.items() if k != "attributes"}
                problem = _field_problem(object_type, fields)
                if problem:
                    results.append({"id": None, "success": False, "errors": [problem]})
                    continue
                found = [
                    r
                    for r in sandbox.records.values()
                    if r["_type"] == object_type and r.get(field) == fields.get(field)
                ]
                if found:
                    sandbox.update(found[0], fields)
                    results.append({"id": found[0]["Id"], "success": True, "errors": [], "created": False})
                else:
                    record = sandbox.create(object_type, fields)
                    results.append({"id": record["Id"], "success": True, "errors": [], "created": True})
            sandbox.state.save()
        return jsonify(results)


def _page(sandbox: SalesforceSandbox, version: str, views: list[dict], offset: int, name: str | None = None) -> dict:
    size = sandbox.page_size
    chunk = views[offset : offset + size]
    page = {"totalSize": len(views), "done": offset + size >= len(views), "records": chunk}
    if not page["done"]:
        name = name or f"01g5g{uuid.uuid4().hex[:13]}"
        sandbox.cursors[name] = views
        page["nextRecordsUrl"] = f"/services/data/{version}/query/{name}-{offset + size}"
    return page


def _field_problem(object_type: str, fields: dict) -> dict | None:
    for name in fields:
        if name not in FIELDS or name in ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate"):
            return {
                "statusCode": "INVALID_FIELD",
                "message": f"No such column '{name}' on sobject of type {object_type}",
                "fields": [name],
            }
    return None


def _check_fields(object_type: str, fields: dict) -> Response | None:
    problem = _field_problem(object_type, fields)
    return errors(400, problem["statusCode"], problem["message"], problem["fields"]) if problem else None


def _save(sandbox: SalesforceSandbox, entry: dict, *, create: bool) -> dict:
    object_type = (entry.get("attributes") or {}).get("type")
    fields = {k: v for k, v in entry.items() if k not in ("attributes", "id", "Id")}
    if object_type not in OBJECTS:
        return {
            "id": None,
            "success": False,
            "errors": [{"statusCode": "INVALID_TYPE", "message": "bad type", "fields": []}],
        }
    problem = _field_problem(object_type, fields)
    if problem:
        return {"id": None, "success": False, "errors": [problem]}
    if create:
        return {"id": sandbox.create(object_type, fields)["Id"], "success": True, "errors": []}
    record = sandbox.records.get(entry.get("id") or entry.get("Id") or "")
    if record is None:
        return {
            "id": entry.get("id"),
            "success": False,
            "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
        }
    sandbox.update(record, fields)
    return {"id": record["Id"], "success": True, "errors": []}


def _bulk(app: Flask, sandbox: SalesforceSandbox) -> None:
    base = "/services/data/<version>/jobs/ingest"

    def job_view(job):
        return {key: value for key, value in job.items() if not key.startswith("_")}

    @app.post(base)
    def create_job(version):
        body = request.get_json(silent=True) or {}
        if body.get("object") not in OBJECTS or body.get("operation") not in ("insert", "update", "upsert"):
            return errors(400, "INVALIDJOB", "invalid object or operation")
        if body["operation"] == "upsert" and not body.get("externalIdFieldName"):
            return errors(400, "INVALIDJOB", "externalIdFieldName is required for upsert")
        job_id = f"7505g{uuid.uuid4().hex[:13]}"
        job = {
            "id": job_id,
            "operation": body["operation"],
            "object": body["object"],
            "state": "Open",
            "externalIdFieldName": body.get("externalIdFieldName"),
            "contentType": "CSV",
            "lineEnding": body.get("lineEnding", "LF"),
            "columnDelimiter": "COMMA",
            "createdDate": sf_time(),
            "numberRecordsProcessed": 0,
            "numberRecordsFailed": 0,
            "_data": "",
            "_ok": [],
            "_failed": [],
        }
        sandbox.jobs[job_id] = job
        return jsonify(job_view(job))

    @app.put(f"{base}/<job_id>/batches")
    def upload(version, job_id):
        job = sandbox.jobs.get(job_id)
        if job is None:
            return errors(404, "NOT_FOUND", "job not found")
        if job["state"] != "Open":
            return errors(400, "INVALIDJOBSTATE", "Job is not in Open state")
        job["_data"] += request.get_data(as_text=True)
        return Response(status=201)

    @app.route(f"{base}/<job_id>", methods=["GET", "PATCH", "DELETE"])
    def job_(version, job_id):
        job = sandbox.jobs.get(job_id)
        if job is None:
            return errors(404, "NOT_FOUND", "job not found")
        if request.method == "DELETE":
            del sandbox.jobs[job_id]
            return Response(status=204)
        if request.method == "PATCH":
            state = (request.get_json(silent=True) or {}).get("state")
            if state == "UploadComplete" and job["state"] == "Open":
                job["state"] = "UploadComplete"
                threading.Timer(0.2, _process, (sandbox, job)).start()
            elif state == "Aborted" and job["state"] in ("Open", "UploadComplete"):
                job["state"] = "Aborted"
            else:
                return errors(400, "INVALIDJOBSTATE", f"cannot change the job from {job['state']} to {state}")
        return jsonify(job_view(job))

    @app.get(f"{base}/<job_id>/<kind>")
    def results(version, job_id, kind):
        job = sandbox.jobs.get(job_id)
        if job is None or kind not in ("successfulResults", "failedResults"):
            return errors(404, "NOT_FOUND", "not found")
        rows = job["_ok"] if kind == "successfulResults" else job["_failed"]
        return Response(_csv(rows), content_type="text/csv")


def _process(sandbox: SalesforceSandbox, job: dict) -> None:
    if job["state"] != "UploadComplete":
        return
    job["state"] = "InProgress"
    time.sleep(0.2)
    reader = csv.DictReader(io.StringIO(job["_data"]))
    with sandbox.lock:
        for row in reader:
            fields = {k: _typed(k, v) for k, v in row.items() if k != "Id"}
            problem = _field_problem(job["object"], fields)
            if problem:
                job["_failed"].append(
                    {"sf__Id": "", "sf__Error": f"{problem['statusCode']}:{problem['message']}", **row}
                )
                continue
            if job["operation"] == "insert":
                record = sandbox.create(job["object"], fields)
            elif job["operation"] == "update":
                record = sandbox.records.get(row.get("Id", ""))
                if record is None:
                    job["_failed"].append(
                        {"sf__Id": row.get("Id", ""), "sf__Error": "ENTITY_IS_DELETED:entity is deleted", **row}
                    )
                    continue
                sandbox.update(record, fields)
            else:
                key = job["externalIdFieldName"]
                found = [
                    r for r in sandbox.records.values() if r["_type"] == job["object"] and r.get(key) == row.get(key)
                ]
                record = found[0] if found else sandbox.create(job["object"], fields)
                if found:
                    sandbox.update(record, fields)
            job["_ok"].append({"sf__Id": record["Id"], "sf__Created": str(job["operation"] == "insert").lower(), **row})
        sandbox.state.save()
    job["numberRecordsProcessed"] = len(job["_ok"]) + len(job["_failed"])
    job["numberRecordsFailed"] = len(job["_failed"])
    job["state"] = "JobComplete"


def _typed(name: str, value: str):
    if name in BOOLEAN_FIELDS:
        return value.strip().lower() == "true"
    return value


def _csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _admin(app: Flask, sandbox: SalesforceSandbox) -> None:
    @app.post("/_sandbox/seed")
    def seed():
        """{"Contact": [{"Email": ..., "LastName": ...}], "Lead": [...]}: records as they would already exist."""
        body = request.get_json(force=True) or {}
        with sandbox.lock:
            for object_type, records in body.items():
                for fields in records:
                    sandbox.create(object_type, dict(fields), notify=False)
            sandbox.state.save()
        return jsonify({"records": len(sandbox.records)})

    @app.post("/_sandbox/ui-change")
    def ui_change():
        """A user ticks a box in Salesforce: {"email": ..., "fields": {"HasOptedOutOfEmail": true}}."""
        body = request.get_json(force=True) or {}
        with sandbox.lock:
            changed = [r for r in sandbox.records.values() if str(r.get("Email", "")).lower() == body["email"].lower()]
            for record in changed:
                sandbox.update(record, body.get("fields") or {})
            sandbox.state.save()
        return jsonify({"changed": len(changed)})

    @app.post("/_sandbox/outbound")
    def outbound_url():
        sandbox.state.data["outbound_url"] = (request.get_json(force=True) or {}).get("url")
        return jsonify({"url": sandbox.state.data["outbound_url"]})

    @app.post("/_sandbox/expire-tokens")
    def expire():
        sandbox.tokens.clear()
        return jsonify({"expired": True})

    @app.post("/_sandbox/token")
    def mint():
        """A session for tests that do not exercise OAuth."""
        access = f"{sandbox.org_id}!{secrets.token_urlsafe(24)}"
        sandbox.tokens.add(access)
        return jsonify({"access_token": access})

    @app.get("/_sandbox/records")
    def records():
        return jsonify({"records": [sandbox.view(r) for r in sandbox.records.values()]})

    @app.get("/_sandbox/deliveries")
    def deliveries():
        return jsonify({"deliveries": sandbox.dispatcher.log, "pending": sandbox.dispatcher.pending()})

    @app.get("/_sandbox/calls")
    def calls():
        return jsonify({"calls": sandbox.calls, "total": sum(sandbox.calls.values()), "used": sandbox.used})
