"""The public API's storage: its keys and the answers kept for idempotency keys. No Flask here.

A key is a random 256-bit secret (`secrets.token_urlsafe(32)`) shown once and stored as its SHA-256 digest. A
password hash (bcrypt, argon2) protects secrets people choose, which can be guessed; a key drawn at random cannot
be, so a plain digest is enough, and it lets a request's key be found by one indexed lookup. The stored digest is
then compared again in constant time (`hmac.compare_digest`).
"""

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.store import api_keys, idempotency_keys, insert_ignoring_duplicates, reading

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "ApiKey",
    "create_key",
    "find_key",
    "list_keys",
    "recall",
    "remember",
    "revoke_key",
]

SCOPES = frozenset({"decide", "record", "calls", "read_proof", "rights"})
KEY_PREFIX = "csk_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")
_IDEMPOTENCY_KEY_LENGTH = 200
_ENDPOINT_LENGTH = 40


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]


def create_key(engine: Engine, name: str, scopes: Iterable[str]) -> str:
    """A new key named `name` with these scopes: the raw key, returned once and stored only as its digest."""
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            "a key's name is 1 to 60 letters, digits, dots, dashes or underscores, starting with a letter or digit",
            field="name",
        )
    wanted = _scopes(scopes)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        taken = connection.execute(select(api_keys.c.id).where(api_keys.c.name == name)).first()
        if taken is not None:
            raise InvalidInputError("a key with this name exists already", field="name")
        inserted = connection.execute(
            insert_ignoring_duplicates(connection, api_keys)
            .values(name=name, key_hash=_digest(raw), scopes=",".join(sorted(wanted)), created_at=datetime.now(UTC))
            .returning(api_keys.c.id)
        ).first()
        if inserted is None:  # another writer took the name in between
            raise InvalidInputError("a key with this name exists already", field="name")
    return raw


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    """Every key, revoked ones included, by name: never its digest."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(api_keys.c.name, api_keys.c.scopes, api_keys.c.created_at, api_keys.c.revoked_at).order_by(
                api_keys.c.name
            )
        ).all()
    return [
        {
            "name": row.name,
            "scopes": sorted(_split(row.scopes)),
            "created_at": row.created_at,
            "revoked_at": row.revoked_at,
        }
        for row in rows
    ]


def revoke_key(engine: Engine, name: str) -> bool:
    """Revoke the key named `name`; False when there is no such key still in use."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(api_keys)
            .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        ).rowcount
    return bool(changed)


def find_key(engine: Engine, raw: str | None) -> ApiKey | None:
    """The key a request presents, or None when it is unknown or revoked."""
    if not raw or not isinstance(raw, str) or len(raw) > 200:
        return None
    digest = _digest(raw)
    with reading(engine) as connection:
        row = connection.execute(
            select(api_keys.c.name, api_keys.c.key_hash, api_keys.c.scopes, api_keys.c.revoked_at).where(
                api_keys.c.key_hash == digest
            )
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    return ApiKey(name=row.name, scopes=frozenset(_split(row.scopes)))


def recall(engine: Engine, key: str, endpoint: str) -> tuple[str, int, dict] | None:
    """(request_hash, status, body) of the first answer given for this Idempotency-Key on this endpoint."""
    with reading(engine) as connection:
        row = connection.execute(
            select(idempotency_keys.c.request_hash, idempotency_keys.c.status, idempotency_keys.c.body).where(
                idempotency_keys.c.key == key, idempotency_keys.c.endpoint == endpoint
            )
        ).first()
    if row is None:
        return None
    return row.request_hash, int(row.status), json.loads(row.body)


def remember(engine: Engine, key: str, endpoint: str, request_hash: str, status: int, body: dict) -> None:
    """Keep the answer given for this Idempotency-Key; the first one stays when two requests race."""
    if not key or len(key) > _IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInputError(
            f"an Idempotency-Key is 1 to {_IDEMPOTENCY_KEY_LENGTH} characters", field="Idempotency-Key"
        )
    if not endpoint or len(endpoint) > _ENDPOINT_LENGTH:
        raise InvalidInputError(f"an endpoint name is 1 to {_ENDPOINT_LENGTH} characters", field="endpoint")
    with engine.begin() as connection:
        connection.execute(
            insert_ignoring_duplicates(connection, idempotency_keys).values(
                key=key,
                endpoint=endpoint,
                request_hash=request_hash,
                status=status,
                body=json.dumps(body, sort_keys=True, default=str),
                created_at=datetime.now(UTC),
            )
        )


def _scopes(scopes: Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    wanted = frozenset(scope.strip() for scope in scopes if scope and scope.strip())
    if not wanted:
        raise InvalidInputError(f"a key needs at least one scope among {', '.join(sorted(SCOPES))}", field="scopes")
    unknown = wanted - SCOPES
    if unknown:
        raise InvalidInputError(
            f"unknown scope {', '.join(sorted(unknown))}; use {', '.join(sorted(SCOPES))}", field="scopes"
        )
    return wanted


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _split(scopes: str) -> set[str]:
    return {scope for scope in scopes.split(",") if scope}
