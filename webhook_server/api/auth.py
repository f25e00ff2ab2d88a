"""Bearer keys: `Authorization: Bearer <key>`, looked up (hashed) in the key table; each key names its scopes.

No key or an unknown one is a 401, a key without the endpoint's scope a 403. The rate limit counts per key: its
bucket is named by a digest of the key, never the key itself. Each process keeps the keys it found for
`CONSENTRY_API_KEY_CACHE_SECONDS` (measured: the key's query was a fifth of a decision's time), so a revoked key
stops working within that delay; an unknown key is looked up every time, so a new key works at once."""

import hashlib
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request

from . import store
from .problems import ApiProblem

SECURITY_SCHEME = "bearerAuth"


def _raw_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return raw.strip()


def rate_key() -> str:
    """The rate limit's bucket for this request: the key's digest, or the client's address without a key."""
    raw = _raw_key()
    if raw is None:
        return f"address:{request.remote_addr}"
    return "key:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


class KeyCache:
    """The keys this process found recently, by the digest of the raw key (never the raw key)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._found: dict[str, tuple[float, store.ApiKey]] = {}
        self._lock = threading.Lock()

    def find(self, engine: Any, raw: str) -> store.ApiKey | None:
        if self.seconds <= 0:
            return store.find_key(engine, raw)
        digest = hashlib.sha256(raw.encode()).hexdigest()
        now = self.clock()
        held = self._found.get(digest)
        if held is not None and now < held[0]:
            return held[1]
        key = store.find_key(engine, raw)
        with self._lock:
            if key is None:
                self._found.pop(digest, None)
            else:
                if len(self._found) >= 10_000:  # keys are few; a flood of distinct ones must not grow this
                    self._found.clear()
                self._found[digest] = (now + self.seconds, key)
        return key


def authenticate() -> Any:
    """The ApiKey this request presents; ApiProblem 401 when none or an unknown one."""
    raw = _raw_key()
    challenge = {"WWW-Authenticate": 'Bearer realm="consentry"'}
    if raw is None:
        raise ApiProblem(
            status=401,
            title="Unauthenticated",
            detail="send an API key as `Authorization: Bearer <key>`",
            headers=challenge,
        )
    engine = current_app.extensions["consentry"].runtime.services.engine
    key = current_app.extensions["consentry_api"].keys.find(engine, raw)
    if key is None:
        raise ApiProblem(
            status=401, title="Unauthenticated", detail="this API key is unknown or revoked", headers=challenge
        )
    return key


def requires(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The view answers only a key holding `scope`; put it above `@blueprint.arguments`, so that a refused
    request is refused before its body is read."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            key = authenticate()
            if scope not in key.scopes:
                raise ApiProblem(
                    status=403,
                    title="Forbidden",
                    detail=f"this API key lacks the scope {scope!r}",
                    errors=[{"field": "Authorization", "message": f"scope {scope!r} required"}],
                )
            g.api_key = key
            return view(*args, **kwargs)

        return guarded

    return decorate
