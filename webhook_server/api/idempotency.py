"""Stripe's idempotency: a request carrying an `Idempotency-Key` already answered gets the first answer again; the
same key with another body is a 409, and nothing is recorded twice."""

import hashlib
from collections.abc import Callable
from typing import Any

from flask import current_app, json, request

from consentry.sdk.errors import InvalidInputError

from . import store
from .problems import ApiProblem, invalid_input
from .records import Recorded


def request_hash() -> str:
    """The body as the client meant it: its JSON, keys sorted, so that spacing and key order do not count."""
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def once(key: str, endpoint: str, record: Callable[[], Recorded]) -> tuple[dict[str, Any], int]:
    """The stored answer of `key` at `endpoint`, or a 201 with what `record()` recorded, remembered for the next
    replay; bad input is a 400 problem, and nothing is remembered for it."""
    engine = current_app.extensions["consentry"].runtime.services.engine
    digest = request_hash()
    stored = store.recall(engine, key, endpoint)
    if stored is not None:
        first_hash, status, body = stored
        if first_hash != digest:
            raise ApiProblem(
                status=409,
                title="Idempotency key reused",
                detail="this Idempotency-Key was sent before with another body; use a new key for a new request",
                errors=[{"field": "Idempotency-Key", "message": "already used with another body"}],
            )
        return (json.loads(body) if isinstance(body, str | bytes) else dict(body)), int(status)
    try:
        recorded = record()
    except InvalidInputError as error:
        raise invalid_input(error) from None
    status, answer = 201, {"event_key": recorded.event_key, "new": bool(recorded.new)}
    store.remember(engine, key, endpoint, digest, status, answer)
    return answer, status
