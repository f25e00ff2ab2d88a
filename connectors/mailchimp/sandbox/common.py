"""What every part of the Mailchimp sandbox shares: problem+json errors, timestamps, member hashes and look-ups,
address checks."""

import hashlib
import uuid
from datetime import UTC, datetime

from flask import Response, jsonify

MAX_PAGE = 1000  # Mailchimp's maximum `count` on collections


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def find_member(item: dict, reference: str) -> dict | None:
    """The member a path names, by subscriber hash or by address (the API accepts both)."""
    return item["members"].get(reference) or item["members"].get(subscriber_hash(reference))


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def problem(status: int, title: str, detail: str, **extra) -> Response:
    """Mailchimp's error shape (RFC 7807 problem details) with its content type and `Link` header."""
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.headers["Content-Type"] = "application/problem+json; charset=utf-8"
    response.headers["Link"] = '<https://api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel="describedBy"'
    return response


def not_found() -> Response:
    return problem(404, "Resource Not Found", "The requested resource could not be found.")


def invalid(detail: str = "The resource submitted could not be validated.", **extra) -> Response:
    return problem(400, "Invalid Resource", detail, **extra)


def valid_email(email) -> bool:
    return isinstance(email, str) and email.count("@") == 1 and "." in email.split("@")[1] and " " not in email


def page_arguments(args, *, default: int = 10) -> tuple[int, int] | Response:
    """`count` and `offset` from a query string, or the 400 Mailchimp answers."""
    try:
        count, offset = int(args.get("count", default)), int(args.get("offset", 0))
    except ValueError:
        return invalid("count and offset must be integers.")
    if count > MAX_PAGE:
        return invalid(f"The count parameter may not be greater than {MAX_PAGE}.")
    if count < 0 or offset < 0:
        return invalid("count and offset may not be negative.")
    return count, offset
