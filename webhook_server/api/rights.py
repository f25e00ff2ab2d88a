"""`POST /v1/rights-requests` and `GET /v1/rights-requests/<id>` (scope `rights`): a data subject's erasure, access
or objection, recorded on the GDPR's clock and carried out in every connected system by the workers, as
`consentry rights request` does; its answer says where it stands in each system, never whom it names."""

from typing import Any

from flask import current_app

from consentry.sdk.errors import InvalidInputError

from .. import rights
from . import records
from .auth import requires
from .idempotency import once
from .problems import ApiBlueprint, ApiProblem
from .schemas import IdempotencySchema, NewRightsRequestSchema, RightsRequestSchema

blueprint = ApiBlueprint(
    "api_rights",
    __name__,
    url_prefix="/v1/rights-requests",
    description="Data subjects' erasure, access and objection requests, on the GDPR's clock (scope `rights`)",
)

_MAX_ID = 2**63 - 1  # the id column's largest value: a larger one is a 404, never a database error
_LOCATION = {"description": "the request's own address", "schema": {"type": "string"}}


@blueprint.route("", methods=["POST"])
@requires("rights")
@blueprint.arguments(IdempotencySchema(), location="headers")
@blueprint.arguments(NewRightsRequestSchema())
@blueprint.response(201, RightsRequestSchema(), headers={"Location": _LOCATION})
@blueprint.alt_response(409, response="CONFLICT")
def open_request(headers: dict[str, Any], body: dict[str, Any]):
    """Record a request; the workers then carry it out in every system. Replaying its Idempotency-Key answers the
    same request, as it stands now."""
    runtime = current_app.extensions["consentry"].runtime

    def record() -> records.Recorded:
        opened = rights.open_request(
            runtime.services,
            sorted(runtime.connectors),
            body["kind"],
            email=body.get("email"),
            phone=body.get("phone"),
            received_at=body.get("received_at"),
            verified_by=body.get("verified_by"),
            source="api",
            advertiser=runtime.advertiser,
        )
        return records.Recorded(rights.request_key(opened.id), new=True)

    answer, status = once(headers["idempotency_key"], "rights-requests", record)
    request_id = rights.request_id_of(answer["event_key"])
    return _shown(request_id), status, {"Location": f"{blueprint.url_prefix}/{request_id}"}


@blueprint.route(f"/<int(min=1, max={_MAX_ID}):request_id>", methods=["GET"])
@requires("rights")
@blueprint.response(200, RightsRequestSchema())
@blueprint.alt_response(404, response="NOT_FOUND")
def show_request(request_id: int):
    """One request: its due date and each system's status."""
    return _shown(request_id)


def _shown(request_id: int) -> dict[str, Any]:
    engine = current_app.extensions["consentry"].runtime.services.engine
    try:
        return rights.show(engine, request_id)
    except InvalidInputError:
        raise ApiProblem(status=404, title="Not found", detail=f"no rights request {request_id}") from None
