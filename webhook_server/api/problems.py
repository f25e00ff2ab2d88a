"""Every error under `/v1` as `application/problem+json` (RFC 9457): type, title, status, detail, and `errors`, the
fields at fault with what is wrong with each. Field names only, never a value a client sent: a body may carry an
email address or a phone number."""

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, Response, json, request
from flask_smorest import Blueprint
from sqlalchemy.exc import SQLAlchemyError
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException

from consentry.sdk.errors import ConsentryError, InvalidInputError
from consentry.sdk.json_input import check_nesting

PREFIX = "/v1"
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://consentry.dev/problems/"

log = logging.getLogger("consentry.api")

# The `type` of each status this API answers, a stable URI clients may switch on.
_TYPES = {
    400: "invalid-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "idempotency-conflict",
    413: "body-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
    503: "unavailable",
}


class _Parser(FlaskParser):
    """A request that does not load is a 400 (webargs says 422), a body nested too deeply included."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        if is_json_request(req):
            check_nesting(req.get_data(cache=True))  # a JSONDecodeError: webargs' own invalid-JSON answer
        return super()._raw_load_json(req)


class ApiBlueprint(Blueprint):
    """The API's blueprints: bodies, queries and headers that do not load are 400 problems."""

    ARGUMENTS_PARSER = _Parser()


class ApiProblem(ConsentryError, HTTPException):
    """An error the API answers on purpose: an HTTP exception of our own root, rendered as one problem."""

    def __init__(
        self,
        *,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        HTTPException.__init__(self, description=detail)
        self.code = status
        self.title = title
        self.errors = errors or []
        self.extra_headers = dict(headers or {})


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + _TYPES.get(status, "error"),
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    response.headers.update(dict(headers or {}))
    return response


def field_errors(messages: Any, path: str = "") -> list[dict[str, str]]:
    """marshmallow's nested messages as a flat list: `{"field": "contacts.3.email", "message": "..."}`."""
    return list(_flatten(messages, path))


def _flatten(messages: Any, path: str) -> Iterator[dict[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = path if key == "_schema" else (f"{path}.{key}" if path else str(key))
            yield from _flatten(value, name)
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from _flatten(item, path)
    else:
        yield {"field": path or "body", "message": str(messages)}


def invalid_input(error: InvalidInputError, path: str = "") -> ApiProblem:
    """The domain's InvalidInputError (its message names fields, never values) as a 400."""
    name = error.field or "body"
    field = f"{path}.{name}" if path else name
    return ApiProblem(
        status=400,
        title="Invalid request",
        detail=f"{field}: {error}",
        errors=[{"field": field, "message": str(error)}],
    )


def register_problem_handlers(app: Flask) -> None:
    """HTTP errors under `/v1` become problems; elsewhere the server's own handler answers as before."""
    handlers = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    previous = handlers.get(HTTPException)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if not _under_api():
            if previous is not None:
                return previous(error)
            return error
        return render(error)

    @app.errorhandler(SQLAlchemyError)
    def _database(error: SQLAlchemyError):
        # the database went away (or refused a statement): nothing was recorded, try again; never a 500 page
        log.warning("api: the database failed (%s)", type(error).__name__)
        if not _under_api():
            raise error
        return problem(
            503,
            "Service unavailable",
            "the database cannot be reached; nothing was recorded, try again",
            headers={"Retry-After": "5"},
        )


def render(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, ApiProblem):
        return problem(status, error.title, error.description or "", errors=error.errors, headers=error.extra_headers)
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, Mapping) else None
    if messages is not None:  # webargs: the request's body, query or headers did not load
        return problem(400, "Invalid request", "the request does not match its schema", errors=_locations(messages))
    title = error.name
    details = {
        404: "no such resource",
        405: f"{request.method} is not allowed here",
        413: "the request body is larger than this server accepts",
    }
    headers = {}
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem(status, title, details.get(status, error.description or title), headers=headers)


def _locations(messages: Mapping[str, Any]) -> list[dict[str, str]]:
    """webargs nests errors under their location (json, query, headers); the field names are what matter."""
    errors = []
    for location, nested in messages.items():
        found = field_errors(nested)
        if location == "json" and found == [{"field": "body", "message": "Invalid JSON body."}]:
            found = [{"field": "body", "message": "the body is not valid JSON"}]
        errors.extend(found)
    return errors


def _under_api() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")
