"""The sandbox's batch operations: `POST /batches`, `GET /batches[/{batch_id}]`, `DELETE /batches/{batch_id}`.

A batch holds `operations: [{method, path, params?, body?, operation_id?}]`, `body` being a JSON *string*. It is
accepted at once (`pending`) and runs when its status is read: each operation goes through the sandbox's own
routes, with the same checks and errors as a direct call (and the same injected faults), but is not counted as a
call of its own. `finished` says every operation ran, `errored_operations` how many failed; the results are a
gzipped tar of JSON files (`[{status_code, operation_id, response}]`, `response` a JSON string) at
`response_body_url`, a link outside the API that needs no key, as Mailchimp's storage links do. At most 500
batches may be pending at once.

`POST /_sandbox/batches` with `{"polls_before_finish": n}` keeps new batches `pending`, then `started`, for that many
status reads before they run, so that a client's polling can be tested.
"""

import io
import json
import secrets
import tarfile
import uuid

from flask import Flask, Response, jsonify, request

from .common import invalid, not_found, now_text, problem

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
MAX_PENDING = 500
BATCH_OPERATION = "sandbox.batch_operation"  # WSGI environ flag of an operation run from a batch


def install_batch_routes(app: Flask, sandbox) -> None:
    @app.route("/3.0/batches", methods=["GET", "POST"])
    def batches():
        if request.method == "GET":
            views = [_view(batch) for batch in sandbox.batches.values()]
            return jsonify({"batches": views, "total_items": len(views), "_links": []})
        body = request.get_json(silent=True)
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list) or not all(_well_formed(operation) for operation in operations):
            return invalid(errors=[{"field": "operations", "message": "Each operation needs a method and a path."}])
        with sandbox.state.lock:
            if sum(batch["status"] != "finished" for batch in sandbox.batches.values()) >= MAX_PENDING:
                return problem(429, "Too Many Requests", f"You have more than {MAX_PENDING} pending batches.")
            batch_id = secrets.token_hex(5)
            sandbox.batches[batch_id] = {
                "id": batch_id,
                "status": "pending",
                "total_operations": len(operations),
                "finished_operations": 0,
                "errored_operations": 0,
                "submitted_at": now_text(),
                "completed_at": "",
                "response_body_url": "",
                "_operations": operations,
                "_polls": sandbox.batch_polls,
            }
            return jsonify(_view(sandbox.batches[batch_id]))

    @app.route("/3.0/batches/<batch_id>", methods=["GET", "DELETE"])
    def batch(batch_id):
        found = sandbox.batches.get(batch_id)
        if found is None:
            return not_found()
        if request.method == "DELETE":
            del sandbox.batches[batch_id]
            return Response(status=204)
        with sandbox.state.lock:  # one run per batch, however many readers
            if found["status"] != "finished":
                if found["_polls"] > 0:
                    found["_polls"] -= 1
                    found["status"] = "started"
                else:
                    url = f"{request.host_url.rstrip('/')}/_sandbox/batch-results/{batch_id}.tar.gz"
                    _run(app, sandbox, found, url)
            return jsonify(_view(found))

    @app.get("/_sandbox/batch-results/<batch_id>.tar.gz")
    def results(batch_id):
        found = sandbox.batches.get(batch_id)
        if found is None or "_archive" not in found:
            return Response("NoSuchKey", status=404, content_type="text/plain")
        return Response(found["_archive"], content_type="application/x-gzip")

    @app.post("/_sandbox/batches")
    def batch_settings():
        sandbox.batch_polls = int((request.get_json(force=True) or {}).get("polls_before_finish", 0))
        return jsonify({"polls_before_finish": sandbox.batch_polls})


def _well_formed(operation) -> bool:
    return (
        isinstance(operation, dict)
        and operation.get("method") in METHODS
        and isinstance(operation.get("path"), str)
        and operation["path"].startswith("/")
        and isinstance(operation.get("params", {}), dict)
        and isinstance(operation.get("operation_id", ""), str)
    )


def _run(app: Flask, sandbox, batch: dict, url: str) -> None:
    client = app.test_client()
    results = []
    for operation in batch.pop("_operations"):
        body = operation.get("body")
        if body is not None and not isinstance(body, str):  # an object where a JSON string belongs
            status, text = (
                400,
                json.dumps(
                    {
                        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
                        "title": "JSON Parse Exception",
                        "status": 400,
                        "detail": "We encountered an unspecified JSON parsing error.",
                        "instance": str(uuid.uuid4()),
                    }
                ),
            )
        else:
            answer = client.open(
                f"/3.0{operation['path']}",
                method=operation["method"],
                query_string=operation.get("params") or None,
                data=body,
                content_type="application/json" if body is not None else None,
                headers={"Authorization": f"Bearer {sandbox.api_key}"},
                environ_overrides={BATCH_OPERATION: True},
            )
            status, text = answer.status_code, answer.get_data(as_text=True)
        results.append({"status_code": status, "operation_id": operation.get("operation_id"), "response": text})
        batch["finished_operations"] += 1
        batch["errored_operations"] += status >= 400
    batch["_archive"] = _archive(batch["id"], results)
    batch.update(status="finished", completed_at=now_text(), response_body_url=url)


def _archive(batch_id: str, results: list[dict]) -> bytes:
    content = json.dumps(results).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entry = tarfile.TarInfo(f"{batch_id}/{uuid.uuid4().hex}.json")
        entry.size = len(content)
        archive.addfile(entry, io.BytesIO(content))
    return buffer.getvalue()


def _view(batch: dict) -> dict:
    return {key: value for key, value in batch.items() if not key.startswith("_")} | {
        "_links": [{"rel": "self", "href": f"/3.0/batches/{batch['id']}", "method": "GET"}]
    }
