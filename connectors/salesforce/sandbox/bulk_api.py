"""Bulk API 2.0 ingest routes under /services/data/vXX.X/jobs/ingest (CONTRACTS §3.6): create a job, upload its
CSV (`PUT .../batches`, 201), close or abort it (`PATCH` with a state), read it, list them, read its successful,
failed and unprocessed rows as CSV, delete it (204). The job engine is `bulk`.
"""

from flask import Blueprint, Response, current_app, g, jsonify, request

from .errors import json_body, not_found

blueprint = Blueprint("salesforce_bulk", __name__, url_prefix="/services/data/<version>/jobs/ingest")
RESULTS = {"successfulresults": "successfulResults", "failedresults": "failedResults"}


@blueprint.url_value_preprocessor
def _version(endpoint, values):
    g.version = values.pop("version")


def _jobs():
    return current_app.extensions["salesforce_sandbox"].jobs


@blueprint.post("")
def create():
    job = _jobs().create(json_body(), version=g.version, user_id=g.session.user_id)
    return jsonify(job.info(detailed=False))


@blueprint.get("")
def listing():
    jobs = [job.info(detailed=False) | {"jobType": "V2Ingest"} for job in _jobs().all()]
    return jsonify({"done": True, "records": jobs, "nextRecordsUrl": None})


@blueprint.put("/<job_id>/batches")
def upload(job_id: str):
    jobs = _jobs()
    jobs.upload(jobs.get(job_id), request.get_data())
    return Response(status=201)


@blueprint.route("/<job_id>", methods=["GET", "PATCH", "DELETE"])
def job(job_id: str):
    jobs = _jobs()
    found = jobs.get(job_id)
    if request.method == "GET":
        return jsonify(found.info())
    if request.method == "DELETE":
        jobs.delete(found)
        return Response(status=204)
    jobs.change_state(found, json_body().get("state"))
    return jsonify(found.info(detailed=False))


@blueprint.get("/<job_id>/<kind>")
def results(job_id: str, kind: str):
    jobs = _jobs()
    found = jobs.get(job_id)
    name = RESULTS.get(kind.lower(), "unprocessedrecords" if kind.lower() == "unprocessedrecords" else None)
    if name is None:
        raise not_found()
    return Response(jobs.results(found, name), content_type="text/csv")
