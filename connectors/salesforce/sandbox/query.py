"""`GET /query?q=` and `/queryAll?q=` with Salesforce's paging: at most 2000 records a page (fewer with the
`Sforce-Query-Options: batchSize=N` header, 200 to 2000, or the sandbox's own `page_size`), `nextRecordsUrl`
pointing at a query locator `01g...-offset`, `totalSize` and `done` (CONTRACTS §3.5).

A locator holds the result as it was when the query ran, and the page size asked for then. A user keeps at
most 10 open locators (opening an 11th releases the oldest), a locator closes once its last page is read and
expires after 15 idle minutes; using a released one answers INVALID_QUERY_LOCATOR.
"""

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from flask import Blueprint, current_app, g, jsonify, request

from . import record_ids
from .errors import SalesforceError
from .soql import QueryError, compile_query

blueprint = Blueprint("salesforce_query", __name__, url_prefix="/services/data/<version>")
MAX_BATCH, MIN_BATCH = 2000, 200
OPEN_LOCATORS = 10
IDLE_SECONDS = 15 * 60


@blueprint.url_value_preprocessor
def _version(endpoint, values):
    g.version = values.pop("version")


class QueryLocators:
    def __init__(self, *, per_user: int = OPEN_LOCATORS, clock: Callable[[], float] = time.monotonic):
        self.per_user, self.clock = per_user, clock
        self._open: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, user: str, rows: list[dict], size: int) -> str:
        locator = record_ids.random("01g")
        with self._lock:
            self._expire()
            mine = [key for key, entry in self._open.items() if entry["user"] == user]
            for key in mine[: max(0, len(mine) - self.per_user + 1)]:
                del self._open[key]
            self._open[locator] = {"user": user, "rows": rows, "size": size, "used": self.clock()}
        return locator

    def rows(self, locator: str) -> tuple[list[dict], int] | None:
        """The locator's rows and page size, None once released."""
        with self._lock:
            self._expire()
            entry = self._open.get(locator)
            if entry is None:
                return None
            entry["used"] = self.clock()
            return entry["rows"], entry["size"]

    def close(self, locator: str) -> None:
        with self._lock:
            self._open.pop(locator, None)

    def _expire(self) -> None:
        moment = self.clock()
        for key in [k for k, entry in self._open.items() if moment - entry["used"] > IDLE_SECONDS]:
            del self._open[key]


def _sandbox():
    return current_app.extensions["salesforce_sandbox"]


def _batch_size(default: int) -> int:
    """The page size the `Sforce-Query-Options: batchSize=N` header asks for (200 to 2000), else `default`."""
    options = request.headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    if match:
        return max(MIN_BATCH, min(MAX_BATCH, int(match.group(1))))
    return default


def _page(rows: list[dict], offset: int, size: int, endpoint: str, locator: str | None) -> dict:
    done = offset + size >= len(rows)
    body: dict = {"totalSize": len(rows), "done": done}
    if not done:
        locator = locator or _sandbox().locators.open(g.session.user_id, rows, size)
        body["nextRecordsUrl"] = f"/services/data/{g.version}/{endpoint}/{locator}-{offset + size}"
    elif locator:
        _sandbox().locators.close(locator)
    body["records"] = rows[offset : offset + size]
    return body


def _run(endpoint: str, *, deleted: bool):
    sandbox = _sandbox()
    text = request.args.get("q")
    if text is None:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
    with sandbox.state.lock:
        org = sandbox.org
        try:
            query = compile_query(text, org.sobject)
        except QueryError as problem:
            raise SalesforceError(400, problem.code, problem.message(text)) from None
        found = query.run(org.rows(query.sobject, deleted=deleted))
        if query.count:
            return jsonify({"totalSize": len(found), "done": True, "records": []})
        rows = [org.view(record, g.version, query.fields) for record in found]
    return jsonify(_page(rows, 0, _batch_size(sandbox.page_size), endpoint, None))


@blueprint.get("/query")
def query():
    return _run("query", deleted=False)


@blueprint.get("/queryAll")
def query_all():
    return _run("queryAll", deleted=True)


@blueprint.get("/<any(query, queryAll):endpoint>/<cursor>")
def more(endpoint: str, cursor: str):
    locator, _, offset = cursor.rpartition("-")
    found = _sandbox().locators.rows(locator) if offset.isdigit() else None
    if found is None or int(offset) > len(found[0]):
        raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows, size = found
    return jsonify(_page(rows, int(offset), _batch_size(size), endpoint, locator))
