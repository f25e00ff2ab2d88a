"""The Recycle Bin, as an administrator sees it under /_sandbox/recycle-bin (loopback, never counted as API calls).

A record deleted through the REST API, sObject Collections or a Bulk API `delete` job stays 15 days in the Recycle
Bin: `query` and `GET` no longer see it (404 ENTITY_IS_DELETED), `queryAll` does, with IsDeleted = true, and a user
may restore it; then Salesforce purges it. `purge` runs that purge as if `days_later` days had passed, so that
tests need no clock; `restore` is a user's undelete. A Bulk API `hardDelete` never puts records here.
"""

from flask import Blueprint, current_app, jsonify

from consentry.connectors.sandbox_kit import ADMIN_PREFIX

from .errors import SalesforceError, json_body

blueprint = Blueprint("salesforce_recycle_bin", __name__, url_prefix=f"{ADMIN_PREFIX}/recycle-bin")
KEPT_DAYS = 15
DAY_MS = 86_400_000


def _sandbox():
    return current_app.extensions["salesforce_sandbox"]


@blueprint.get("")
def listing():
    sandbox = _sandbox()
    with sandbox.state.lock:
        rows = [
            {"Id": r["Id"], "type": r["_type"], "deletedAt": r.get("_deleted_at")}
            for r in sandbox.org.records.values()
            if r["IsDeleted"]
        ]
    return jsonify({"records": rows})


@blueprint.post("/restore")
def restore():
    """`{"id": ...}`: undelete one record from the Recycle Bin."""
    sandbox = _sandbox()
    with sandbox.state.lock:
        record = sandbox.org.get(str(json_body().get("id") or ""))
        if record is None or not record["IsDeleted"]:
            raise SalesforceError(404, "NOT_FOUND", "The record is not in the Recycle Bin")
        sandbox.org.restore(record)
        sandbox.state.save()
    return jsonify({"restored": record["Id"]})


@blueprint.post("/purge")
def purge():
    """`{"days_later": 16}`: Salesforce's purge of what was deleted more than 15 days before that moment."""
    days = json_body().get("days_later", 0)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise SalesforceError(400, "INVALID_FIELD", "days_later is a whole number of days, 0 or more")
    sandbox = _sandbox()
    with sandbox.state.lock:
        moment = int(sandbox.org.clock() * 1000) + days * DAY_MS
        count = sandbox.org.purge(older_than_ms=moment - KEPT_DAYS * DAY_MS)
        sandbox.state.save()
    return jsonify({"purged": count})
