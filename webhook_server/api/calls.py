"""`POST /v1/calls` (scope `calls`): a dialer's call and its outcome into the call log; a refusal or a "do not call
again" is an opt-out every connected system hears of."""

from typing import Any

from flask import current_app

from . import records
from .auth import requires
from .idempotency import once
from .problems import ApiBlueprint
from .schemas import CallRequestSchema, IdempotencySchema, RecordedSchema

blueprint = ApiBlueprint(
    "api_calls",
    __name__,
    url_prefix="/v1/calls",
    description="Log calls and their outcome (scope `calls`)",
)


@blueprint.route("", methods=["POST"])
@requires("calls")
@blueprint.arguments(IdempotencySchema(), location="headers")
@blueprint.arguments(CallRequestSchema())
@blueprint.response(201, RecordedSchema())
def log_call(headers: dict[str, Any], body: dict[str, Any]):
    """Log one call; replaying its Idempotency-Key replays the first answer."""
    runtime = current_app.extensions["consentry"].runtime
    key = headers["idempotency_key"]

    def record() -> records.Recorded:
        return records.log_call(
            runtime,
            phone=body["phone"],
            email=body.get("email"),
            advertiser=body.get("advertiser") or runtime.advertiser,
            called_at=body["called_at"],
            outcome=body["outcome"],
            event_key=f"api:{key}",
        )

    return once(key, "calls", record)
