"""sObject Collections under /services/data/vXX.X/composite/sobjects (CONTRACTS §3.4): create (POST), update (PATCH),
delete (DELETE ?ids=), read (GET /{type}?ids=&fields=) and upsert (PATCH /{type}/{ExternalIdField}).

At most 200 records or ids a call, else 400 EXCEEDED_ID_LIMIT "record limit reached. cannot submit more than 200
records into this call"; at most 10 chunks of records of one type in a row, else 400 (CONTRACTS §3.4). Results are
SaveResults in request order: `{id, success, errors: [{statusCode, message, fields}]}`, plus `created` for upserts.
With `allOrNone` every record is checked before any is changed; when one fails nothing is saved and the others
report ALL_OR_NONE_OPERATION_ROLLED_BACK. A body that cannot be read as sObjects (no type, an unknown object or
field, a value of the wrong JSON type) refuses the whole request.
"""

import itertools
from collections.abc import Callable

from flask import Blueprint, current_app, g, jsonify, request

from . import record_ids
from .errors import RecordProblem, SalesforceError, json_body, not_found
from .schema import SObjectType

blueprint = Blueprint("salesforce_collections", __name__, url_prefix="/services/data/<version>/composite/sobjects")
LIMIT = 200
MAX_CHUNKS = 10  # each run of records of one type is a chunk: {Contact, Contact, Lead, Contact} makes three
ROLLED_BACK = RecordProblem(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
Plan = tuple[Callable[[], dict], list[RecordProblem]]  # (apply, problems): apply returns the success result


@blueprint.url_value_preprocessor
def _version(endpoint, values):
    g.version = values.pop("version")


def _sandbox():
    return current_app.extensions["salesforce_sandbox"]


def _too_many() -> SalesforceError:
    return SalesforceError(
        400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {LIMIT} records into this call"
    )


def _records(body: dict) -> list[dict]:
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "Cannot deserialize records: a list of sObjects is required")
    if len(records) > LIMIT:
        raise _too_many()
    chunks = itertools.groupby(str((r.get("attributes") or {}).get("type", "")).lower() for r in records)
    if sum(1 for _ in chunks) > MAX_CHUNKS:  # the message is Apex's for this rule; the error code is unconfirmed
        raise SalesforceError(
            400,
            "INVALID_BATCH_REQUEST",
            "Cannot have more than 10 chunks in a single operation. Please rearrange the data to reduce chunking.",
        )
    return records


def _typed(entry: dict, expected: SObjectType | None = None) -> SObjectType:
    name = (entry.get("attributes") or {}).get("type")
    if not name:
        if expected is not None:
            return expected
        raise SalesforceError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    sobject = _sandbox().org.sobject(name)
    if sobject is None or (expected is not None and sobject is not expected):
        raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return sobject


def _without_id(entry: dict) -> tuple[dict, object]:
    rest = {k: v for k, v in entry.items() if k not in ("id", "Id")}
    return rest, entry.get("id", entry.get("Id"))


def _run(plans: list[Plan], all_or_none: bool) -> list[dict]:
    failed = any(problems for _, problems in plans)
    results = []
    for apply, problems in plans:
        if problems:
            results.append({"success": False, "errors": [p.save_error() for p in problems]})
        elif all_or_none and failed:
            results.append({"success": False, "errors": [ROLLED_BACK.save_error()]})
        else:
            results.append(apply())
    return results


def _flag(value: object) -> bool:
    return value is True or str(value).lower() == "true"


@blueprint.post("")
def create():
    body = json_body()

    def plan(org, entry) -> Plan:
        sobject = _typed(entry)
        values = org.parse_json(sobject, entry)

        def apply() -> dict:
            return {"id": org.create(sobject, values)["Id"], "success": True, "errors": []}

        return apply, org.check_create(sobject, values)

    return _apply_each(_records(body), plan, _flag(body.get("allOrNone")))


@blueprint.patch("")
def update():
    body = json_body()

    def plan(org, entry) -> Plan:
        sobject = _typed(entry)
        rest, given = _without_id(entry)
        values = org.parse_json(sobject, rest)
        record, problems = _target(sobject, given)
        if record is None:  # never applied: a missing target always comes with its problems
            return dict, problems
        problems = org.check_update(record, values)

        def apply() -> dict:
            org.update(record, values)
            return {"id": record["Id"], "success": True, "errors": []}

        return apply, problems

    return _apply_each(_records(body), plan, _flag(body.get("allOrNone")))


def _apply_each(items: list, plan, all_or_none: bool):
    """Plan every item under the state lock (each plan: how to apply it, and what Salesforce would refuse), then
    apply them as Salesforce does: all or none, or each on its own."""
    sandbox = _sandbox()
    with sandbox.state.lock:
        results = _run([plan(sandbox.org, item) for item in items], all_or_none)
        sandbox.state.save()
    return jsonify(results)


def _target(sobject: SObjectType, given: object) -> tuple[dict | None, list[RecordProblem]]:
    if given in (None, ""):
        return None, [RecordProblem("MISSING_ARGUMENT", "Id not specified in an update call")]
    normal = record_ids.normalize(given)
    if normal is None or record_ids.prefix_of(normal) != sobject.key_prefix:
        return None, [RecordProblem("MALFORMED_ID", f"{sobject.label} ID: id value of incorrect type: {given}", ["Id"])]
    record = _sandbox().org.get(normal, sobject)
    if record is None:
        return None, [RecordProblem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
    if record["IsDeleted"]:
        return None, [RecordProblem("ENTITY_IS_DELETED", "entity is deleted")]
    locked = _sandbox().org.lock_problem(record)
    return (None, [locked]) if locked is not None else (record, [])


@blueprint.delete("")
def delete():
    ids = [i for i in (request.args.get("ids") or "").split(",") if i]
    if not ids:
        raise SalesforceError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > LIMIT:
        raise _too_many()

    def plan(org, given) -> Plan:
        normal = record_ids.normalize(given)
        owner = next((o for o in org.schema.values() if normal and o.key_prefix == normal[:3]), None)
        if owner is None:
            return dict, [RecordProblem("MALFORMED_ID", f"malformed id {given}")]
        record, problems = _target(owner, normal)
        if record is None:  # never applied: a missing target always comes with its problems
            return dict, problems

        def apply() -> dict:
            org.delete(record)
            return {"id": record["Id"], "success": True, "errors": []}

        return apply, problems

    return _apply_each(ids, plan, _flag(request.args.get("allOrNone")))


@blueprint.get("/<object_type>")
def read(object_type: str):
    sandbox = _sandbox()
    sobject = sandbox.org.sobject(object_type)
    if sobject is None:
        raise not_found()
    ids = [i for i in (request.args.get("ids") or "").split(",") if i]
    if len(ids) > 2000:
        raise _too_many()
    names = []
    for name in (request.args.get("fields") or "").split(","):
        found = sobject.field(name.strip()) if name.strip() else None
        if found is None:
            raise SalesforceError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{sobject.name}'.")
        names.append(found.name)
    with sandbox.state.lock:
        rows = []
        for given in ids:
            record = sandbox.org.get(given, sobject)
            rows.append(None if record is None or record["IsDeleted"] else sandbox.org.view(record, g.version, names))
    return jsonify(rows)


@blueprint.patch("/<object_type>/<field_name>")
def upsert(object_type: str, field_name: str):
    sandbox = _sandbox()
    sobject = sandbox.org.sobject(object_type)
    if sobject is None:
        raise not_found()
    fld = sobject.field(field_name)
    if fld is None or not (fld.external_id or fld.type == "id"):
        raise SalesforceError(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    body = json_body()
    records = _records(body)
    with sandbox.state.lock:
        org = sandbox.org
        parsed = []
        for entry in records:
            _typed(entry, sobject)
            rest, given = _without_id(entry)
            values = org.parse_json(sobject, rest)
            key = given if fld.type == "id" else values.get(fld.name)
            parsed.append((values, None if key in (None, "") else str(key)))
        seen: dict[str, int] = {}
        for _, key in parsed:
            if key is not None:
                seen[key.lower()] = seen.get(key.lower(), 0) + 1
        plans = [_upsert_plan(sobject, fld, values, key, seen) for values, key in parsed]
        results = _run(plans, _flag(body.get("allOrNone")))
        sandbox.state.save()
    return jsonify(results)


def _upsert_plan(sobject: SObjectType, fld, values: dict, key: str | None, seen: dict[str, int]) -> Plan:
    org = _sandbox().org
    if key is None:
        if fld.type == "id":
            return _create_plan(sobject, values)
        return (dict, [RecordProblem("MISSING_ARGUMENT", f"{fld.name} not specified", [fld.name])])
    if seen[key.lower()] > 1:
        return (dict, [RecordProblem("DUPLICATE_VALUE", f"Duplicate external id specified: {key}", [fld.name])])
    matches = org.find(sobject, fld, key)
    if len(matches) > 1:
        ids = ", ".join(r["Id"] for r in matches)
        problem = RecordProblem(
            "DUPLICATE_EXTERNAL_ID",
            f"{fld.label}: more than one record found for external id field: [{ids}]",
            [fld.name],
        )
        return (dict, [problem])
    if not matches:
        if fld.type == "id":
            return (dict, [RecordProblem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")])
        return _create_plan(sobject, values)
    record = matches[0]
    changes = {k: v for k, v in values.items() if k != fld.name}
    problems = org.check_update(record, changes)

    def apply() -> dict:
        org.update(record, changes)
        return {"id": record["Id"], "success": True, "errors": [], "created": False}

    return (apply, problems)


def _create_plan(sobject: SObjectType, values: dict) -> Plan:
    org = _sandbox().org
    problems = org.check_create(sobject, values)

    def apply() -> dict:
        return {"id": org.create(sobject, values)["Id"], "success": True, "errors": [], "created": True}

    return (apply, problems)
