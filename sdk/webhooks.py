"""Webhook verification in one shape for every vendor (after the Standard Webhooks spec).

A verifier is built once from its secrets (several, for rotation), checks the timestamp first and in both
directions against an injected clock, compares signatures in constant time over the raw body bytes, and turns
every malformed input into a WebhookVerificationError, never a bare ValueError.
"""

import hmac
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import WebhookVerificationError

__all__ = [
    "DEFAULT_TOLERANCE",
    "WebhookRequest",
    "WebhookVerifier",
    "parse_number",
]

DEFAULT_TOLERANCE = 300.0  # seconds, both ways: HubSpot's five minutes


@dataclass(frozen=True)
class WebhookRequest:
    """What a verifier sees: the raw request as it arrived (headers case-insensitively)."""

    method: str
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class WebhookVerifier:
    """Base class: subclasses implement `verify`; helpers below do the shared checks."""

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ):
        self.secrets = [secret for secret in secrets if secret]
        if not self.secrets:
            raise WebhookVerificationError("no webhook secret is configured")
        self.tolerance = tolerance
        self.clock = clock

    def verify(self, request: WebhookRequest) -> None:
        raise NotImplementedError

    def required_header(self, request: WebhookRequest, name: str) -> str:
        value = request.header(name)
        if not value:
            raise WebhookVerificationError(f"missing header {name}")
        return value

    def check_timestamp(self, seconds: float) -> None:
        """Reject stale and future timestamps alike: a replay window of `tolerance` seconds. NaN compares false
        with everything, so it would pass both checks: a timestamp that is not a finite number is refused first."""
        if not math.isfinite(seconds):
            raise WebhookVerificationError("the webhook timestamp is not a finite number")
        skew = self.clock() - seconds
        if skew > self.tolerance:
            raise WebhookVerificationError("the webhook timestamp is too old")
        if skew < -self.tolerance:
            raise WebhookVerificationError("the webhook timestamp is in the future")

    def matches_any(self, compute: Callable[[bytes], str | bytes], given: str | bytes) -> bool:
        """Whether `given` equals the signature computed with any configured secret (constant time)."""
        given_bytes = given.encode() if isinstance(given, str) else given
        for secret in self.secrets:
            expected = compute(secret.encode())
            expected_bytes = expected.encode() if isinstance(expected, str) else expected
            if hmac.compare_digest(expected_bytes, given_bytes):
                return True
        return False


def parse_number(text: str, name: str) -> float:
    """A finite number from a header: `nan`, `inf` and `1e400` (which `float` reads as infinity) are malformed."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        raise WebhookVerificationError(f"malformed {name}") from None
    if not math.isfinite(number):
        raise WebhookVerificationError(f"malformed {name}")
    return number
