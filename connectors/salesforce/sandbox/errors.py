"""Salesforce's error shapes, so that every refusal of the sandbox reads like one of Salesforce's (CONTRACTS §3.7).

REST errors are a JSON array of `{message, errorCode[, fields]}`; save results of sObject Collections and Bulk
rows carry `{statusCode, message, fields}` instead. A request that cannot be deserialised (bad JSON, an unknown
field, a value of the wrong JSON type) is refused as a whole; a record that breaks a rule (a required field, a
read-only field, a too-long value) fails on its own, which is what `RecordProblem` describes.
"""

import json
from dataclasses import dataclass, field
from typing import Literal, overload

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

NOT_FOUND_MESSAGE = "The requested resource does not exist"


class SalesforceError(Exception):
    """A whole request refused: rendered as `[{"message", "errorCode"[, "fields"]}]` with `status`."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


@dataclass(eq=False)
class RecordProblem(Exception):
    """Why one record of a DML operation failed (a `statusCode` of Salesforce's save results); raised where a
    row's processing stops at its first problem (Bulk API rows)."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def save_error(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def bulk_error(self) -> str:
        """The `sf__Error` cell of a Bulk API 2.0 failed row: `CODE:message:fields --`."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"

    def as_error(self, status: int = 400) -> SalesforceError:
        return SalesforceError(status, self.code, self.message, self.fields or None)


class RecordRefused(Exception):
    """A single-record REST call whose record broke one or more rules."""

    def __init__(self, problems: list[RecordProblem]):
        super().__init__(problems[0].message)
        self.problems = problems


def error_response(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    item: dict = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    response = jsonify([item])
    response.status_code = status
    return response


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


@overload
def json_body(*, array: Literal[False] = False) -> dict: ...


@overload
def json_body(*, array: Literal[True]) -> list: ...


def json_body(*, array: bool = False) -> dict | list:
    """The request's JSON document; Salesforce answers JSON_PARSER_ERROR to anything it cannot read."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise SalesforceError(400, "JSON_PARSER_ERROR", "No content to map due to end-of-input")
    try:
        body = json.loads(raw)
    except ValueError as problem:
        line, column = getattr(problem, "lineno", 1), getattr(problem, "colno", 1)
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", f"Unexpected character at [line:{line}, column:{column}]"
        ) from None
    expected = list if array else dict
    if not isinstance(body, expected):
        token = "START_ARRAY" if isinstance(body, list) else "VALUE"
        raise SalesforceError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance out of {token} token")
    return body


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(SalesforceError)
    def _salesforce(error: SalesforceError) -> Response:
        return error_response(error.status, error.code, error.message, error.fields)

    @app.errorhandler(RecordRefused)
    def _refused(error: RecordRefused) -> Response:
        response = jsonify(
            [{"message": p.message, "errorCode": p.code, "fields": list(p.fields)} for p in error.problems]
        )
        response.status_code = 400
        return response

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        if error.code == 405:
            valid = error.valid_methods if isinstance(error, MethodNotAllowed) else None
            allowed = ",".join(sorted(m for m in (valid or []) if m not in ("HEAD", "OPTIONS")))
            message = f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"
            return error_response(405, "METHOD_NOT_ALLOWED", message)
        if error.code == 404:
            return error_response(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        return error_response(error.code or 500, "UNKNOWN_EXCEPTION", error.description or error.name)
