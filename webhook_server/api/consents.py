"""`POST /v1/consents` (scope `record`): a consent given, withdrawn or objected to, with its proof, into the ledger;
an opt-out reaches every connected system through the propagation jobs recorded with it."""

from typing import Any

from flask import current_app

from . import records
from .auth import requires
from .idempotency import once
from .problems import ApiBlueprint
from .schemas import ConsentRequestSchema, IdempotencySchema, RecordedSchema

blueprint = ApiBlueprint(
    "api_consents",
    __name__,
    url_prefix="/v1/consents",
    description="Record consents, withdrawals and objections with their proof (scope `record`)",
)


@blueprint.route("", methods=["POST"])
@requires("record")
@blueprint.arguments(IdempotencySchema(), location="headers")
@blueprint.arguments(ConsentRequestSchema())
@blueprint.response(201, RecordedSchema())
def record_consent(headers: dict[str, Any], body: dict[str, Any]):
    """Record one consent event; replaying its Idempotency-Key replays the first answer."""
    runtime = current_app.extensions["consentry"].runtime
    key = headers["idempotency_key"]

    def record() -> records.Recorded:
        proof = body.get("proof") or {}
        return records.record_consent(
            runtime,
            email=body.get("email"),
            phone=body.get("phone"),
            channel=body["channel"],
            kind=body["kind"],
            advertiser=body.get("advertiser") or runtime.advertiser,
            occurred_at=body["occurred_at"],
            event_key=f"api:{key}",
            collection_point=proof.get("collection_point"),
            wording=proof.get("wording"),
            wording_version=proof.get("wording_version"),
            method=proof.get("method"),
        )

    return once(key, "consents", record)
