"""HubSpot's error bodies, so that every refusal of the sandbox reads like one of HubSpot's (CONTRACTS §1.2).

Plain errors are `{status: "error", message, correlationId, category, ...}`; items of a batch answer use the
`StandardError` shape; invalid property values are listed in the message as HubSpot does
(`Property values were not valid: [...]`). The correlation id of an error is the request's, also sent in the
`X-HubSpot-Correlation-Id` header.
"""

import json
import uuid

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException


class HubSpotError(Exception):
    """A refusal rendered in HubSpot's error shape; `extra` adds fields such as `context` or `subCategory`."""

    def __init__(self, status: int, category: str | None, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.extra = extra


def correlation_id() -> str:
    if "correlation_id" not in g:
        g.correlation_id = str(uuid.uuid4())
    return g.correlation_id


def error_response(status: int, category: str | None, message: str, **extra) -> Response:
    body = {"status": "error", "message": message, "correlationId": correlation_id()}
    if category:
        body["category"] = category
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def json_body() -> dict:
    """The request's JSON object; HubSpot answers 400 to a body that is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as problem:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Invalid input JSON: {problem}") from None
    if not isinstance(body, dict):
        raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object")
    return body


def property_problem(name: str, error: str, message: str) -> dict:
    """One entry of HubSpot's list of invalid property values."""
    return {"isValid": False, "message": message, "error": error, "name": name, "localizedErrorMessage": message}


def invalid_properties(problems: list[dict]) -> HubSpotError:
    """HubSpot lists the invalid values in the message; the `errors` details carry each one's code."""
    listed = json.dumps(problems, separators=(",", ":"), ensure_ascii=False)
    details = [
        {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}} for p in problems
    ]
    return HubSpotError(400, "VALIDATION_ERROR", f"Property values were not valid: {listed}", errors=details)


def item_error(category: str, message: str, context: dict[str, list[str]], **extra) -> dict:
    """One error of a batch answer (`StandardError`: every field the official client requires)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
        **extra,
    }


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(HubSpotError)
    def _hubspot(error: HubSpotError) -> Response:
        return error_response(error.status, error.category, error.message, **error.extra)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        category = {404: "OBJECT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.code or 500, "ERROR")
        return error_response(error.code or 500, category, error.description or error.name)
