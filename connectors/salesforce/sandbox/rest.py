"""REST resources under /services/data/vXX.X (CONTRACTS §3.2, §3.7): the version's resource list, `limits`, the
global and per-object describe, sObject rows (create 201, read, update 204, delete 204) and external-id access
(`GET` and upsert `PATCH /sobjects/{type}/{field}/{value}`: 201 created, 200 updated from API 46.0 on and 204
before it, 300 with the matching records' URLs when several match, `?updateOnly=true` to never create).

A path segment that is neither a record id of the object nor a known external-id field answers 404
"Provided external ID field does not exist or is not accessible: ...", a deleted record 404 ENTITY_IS_DELETED.
"""

from flask import Blueprint, Response, current_app, g, jsonify, request

from . import record_ids
from .errors import RecordRefused, SalesforceError, json_body, not_found
from .schema import SObjectType

blueprint = Blueprint("salesforce_rest", __name__, url_prefix="/services/data/<version>")
CREATED_FLAG_SINCE = 46  # upsert answers carry `created` and update answers 200 from API 46.0


@blueprint.url_value_preprocessor
def _version(endpoint, values):
    g.version = values.pop("version")


def _sandbox():
    return current_app.extensions["salesforce_sandbox"]


def _sobject(name: str) -> SObjectType:
    found = _sandbox().org.sobject(name)
    if found is None:
        raise not_found()
    return found


def _no_such_external_id(name: str) -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")


def _record(sobject: SObjectType, record_id: str) -> dict:
    normal = record_ids.normalize(record_id)
    if normal is None:
        raise _no_such_external_id(record_id)
    record = _sandbox().org.get(normal, sobject)
    if record is None:
        raise not_found()
    if record["IsDeleted"]:
        raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return record


def _selected(sobject: SObjectType) -> list[str] | None:
    wanted = request.args.get("fields")
    if not wanted:
        return None
    names = []
    for name in wanted.split(","):
        found = sobject.field(name.strip())
        if found is None:
            raise SalesforceError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{sobject.name}'.")
        names.append(found.name)
    return names


def _major() -> int:
    return int(g.version.lstrip("v").split(".")[0])


@blueprint.get("")
def resources():
    base = f"/services/data/{g.version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
    return jsonify({name: f"{base}/{name}" for name in names})


@blueprint.get("/limits")
def limits():
    return jsonify({"DailyApiRequests": _sandbox().limits.limits()})


@blueprint.get("/sobjects")
def global_describe():
    objects = [o.summary(g.version) for o in _sandbox().org.schema.values()]
    return jsonify({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


@blueprint.route("/sobjects/<object_type>", methods=["GET", "POST"])
def sobject_root(object_type: str):
    sandbox, sobject = _sandbox(), _sobject(object_type)
    if request.method == "GET":
        return jsonify({"objectDescribe": sobject.summary(g.version), "recentItems": []})
    body = json_body()
    with sandbox.state.lock:
        values = sandbox.org.parse_json(sobject, body)
        problems = sandbox.org.check_create(sobject, values)
        if problems:
            raise RecordRefused(problems)
        record = sandbox.org.create(sobject, values)
        sandbox.state.save()
    response = jsonify({"id": record["Id"], "success": True, "errors": []})
    response.status_code = 201
    response.headers["Location"] = f"/services/data/{g.version}/sobjects/{sobject.name}/{record['Id']}"
    return response


@blueprint.get("/sobjects/<object_type>/describe")
def describe(object_type: str):
    return jsonify(_sobject(object_type).describe(g.version))


@blueprint.route("/sobjects/<object_type>/<record_id>", methods=["GET", "PATCH", "DELETE"])
def record_(object_type: str, record_id: str):
    sandbox, sobject = _sandbox(), _sobject(object_type)
    with sandbox.state.lock:
        record = _record(sobject, record_id)
        if request.method == "GET":
            return jsonify(sandbox.org.view(record, g.version, _selected(sobject)))
        locked = sandbox.org.lock_problem(record)
        if locked is not None:
            raise locked.as_error()
        if request.method == "DELETE":
            sandbox.org.delete(record)
            sandbox.state.save()
            return Response(status=204)
        body = dict(json_body())
        given = body.pop("Id", None) or body.pop("id", None)
        if given is not None and record_ids.normalize(given) != record["Id"]:
            raise SalesforceError(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
        values = sandbox.org.parse_json(sobject, body)
        problems = sandbox.org.check_update(record, values)
        if problems:
            raise RecordRefused(problems)
        sandbox.org.update(record, values)
        sandbox.state.save()
    return Response(status=204)


@blueprint.route("/sobjects/<object_type>/<field_name>/<path:value>", methods=["GET", "PATCH"])
def by_external_id(object_type: str, field_name: str, value: str):
    sandbox, sobject = _sandbox(), _sobject(object_type)
    fld = sobject.field(field_name)
    if fld is None or not (fld.external_id or fld.type == "id"):
        raise _no_such_external_id(field_name)
    with sandbox.state.lock:
        org = sandbox.org
        matches = org.find(sobject, fld, value)
        if len(matches) > 1:
            response = jsonify([f"/services/data/{g.version}/sobjects/{sobject.name}/{r['Id']}" for r in matches])
            response.status_code = 300
            return response
        if request.method == "GET":
            if not matches:
                raise not_found()
            return jsonify(org.view(matches[0], g.version, _selected(sobject)))
        values = org.parse_json(sobject, json_body())
        if matches:
            values.pop(fld.name, None)
            problems = org.check_update(matches[0], values)
            if problems:
                raise RecordRefused(problems)
            org.update(matches[0], values)
            sandbox.state.save()
            if _major() < CREATED_FLAG_SINCE:
                return Response(status=204)
            return jsonify({"id": matches[0]["Id"], "success": True, "errors": [], "created": False})
        if request.args.get("updateOnly") == "true" or fld.type == "id":
            raise not_found()
        values[fld.name] = value
        problems = org.check_create(sobject, values)
        if problems:
            raise RecordRefused(problems)
        record = org.create(sobject, values)
        sandbox.state.save()
    body = {"id": record["Id"], "success": True, "errors": []}
    if _major() >= CREATED_FLAG_SINCE:
        body["created"] = True
    response = jsonify(body)
    response.status_code = 201
    return response


def versions_list(latest: int) -> list[dict]:
    """`GET /services/data`: every supported version, oldest first, with its release label."""
    seasons = ("Spring", "Summer", "Winter")
    found = []
    for major in range(31, latest + 1):
        step = major - 60  # 60.0 is Spring '24
        season = seasons[step % 3]
        year = 24 + (step + 1) // 3
        found.append({"label": f"{season} '{year}", "url": f"/services/data/v{major}.0", "version": f"{major}.0"})
    return found
