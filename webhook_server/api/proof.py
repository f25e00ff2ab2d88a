"""`GET /v1/people/proof?email=...` or `?phone=...` (scope `read_proof`): the evidence Consentry holds about one
person, for an audit or a regulator."""

from typing import Any

from flask import current_app

from consentry.sdk.errors import InvalidInputError

from . import records
from .auth import requires
from .problems import ApiBlueprint, invalid_input
from .schemas import ProofQuerySchema, ProofSchema

blueprint = ApiBlueprint(
    "api_proof",
    __name__,
    url_prefix="/v1/people",
    description="The evidence held about one person (scope `read_proof`)",
)


@blueprint.route("/proof", methods=["GET"])
@requires("read_proof")
@blueprint.arguments(ProofQuerySchema(), location="query")
@blueprint.response(200, ProofSchema())
def proof_of(query: dict[str, Any]):
    """Everything recorded about the person with this email address or phone number."""
    engine = current_app.extensions["consentry"].runtime.services.engine
    try:
        evidence = records.proof_of(engine, email=query.get("email"), phone=query.get("phone"))
    except InvalidInputError as error:
        raise invalid_input(error) from None
    return {"events": evidence}
