"""Unsubscribe links that never expire and carry no readable email, and the RFC 8058 one-click headers.

The token is signed (itsdangerous) and holds only an opaque person number, the channels and the advertiser; the
server maps it back to the person. A tampered token fails the signature and changes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine

from .consent_state import LEDGER_CHANNELS
from .errors import InvalidInputError
from .persons import ensure_person, identifiers

SALT = "consentry.unsubscribe.v1"


@dataclass(frozen=True)
class UnsubscribeLink:
    url: str
    headers: dict[str, str]  # List-Unsubscribe and List-Unsubscribe-Post, for the message's header


@dataclass(frozen=True)
class UnsubscribeRequest:
    person_id: int
    channels: frozenset[str]
    advertiser: str


class UnsubscribeTokens:
    def __init__(self, secret_key: str):
        if not secret_key or len(secret_key) < 16:
            raise InvalidInputError("the unsubscribe secret must be at least 16 characters long")
        self._serializer = URLSafeSerializer(secret_key, salt=SALT)

    def make(self, person_id: int, channels: Iterable[str], advertiser: str) -> str:
        chosen = sorted(set(channels))
        if not chosen or not set(chosen) <= LEDGER_CHANNELS:
            raise InvalidInputError("unknown channel in an unsubscribe link", field="channels")
        return self._serializer.dumps({"p": person_id, "c": chosen, "a": advertiser})

    def read(self, token: str) -> UnsubscribeRequest:
        try:
            payload = self._serializer.loads(token)
            return UnsubscribeRequest(int(payload["p"]), frozenset(payload["c"]), str(payload["a"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            raise InvalidInputError("this unsubscribe link is not valid") from None


def build_link(
    engine: Engine,
    tokens: UnsubscribeTokens,
    *,
    base_url: str,
    email: str | None = None,
    phone: str | None = None,
    channels: Iterable[str] = ("email",),
    advertiser: str = "default",
) -> UnsubscribeLink:
    """The link for one recipient, and the headers that make mail clients offer a one-click unsubscribe."""
    email, phone = identifiers(email, phone)
    with engine.begin() as connection:
        person_id = ensure_person(connection, email, phone)
    url = f"{base_url.rstrip('/')}/unsubscribe/{tokens.make(person_id, channels, advertiser)}"
    headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return UnsubscribeLink(url, headers)
