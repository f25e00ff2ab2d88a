"""One JSON shape for every error the server answers, and nothing that would leak a body or an address."""

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


def error_body(status: int, name: str, message: str):
    response = jsonify({"error": name, "status": status, "message": message})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        return error_body(error.code or 500, type(error).__name__, error.description or "")
