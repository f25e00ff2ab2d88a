"""The project's exceptions, grouped by what the caller should do about them.

`str(error)` never carries a response body, an email address or a phone number: messages name fields and
codes, never values.
"""

from typing import Any

__all__ = [
    "ConfigurationError",
    "ConnectorError",
    "ConsentryError",
    "InvalidInputError",
    "PolicyError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "WebhookPayloadError",
    "WebhookVerificationError",
]


class ConsentryError(Exception):
    """Root of every error Consentry raises on purpose."""


class ConfigurationError(ConsentryError):
    """The installation is misconfigured: fix the settings, not the data."""


class InvalidInputError(ConsentryError, ValueError):
    """Input data is malformed; nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class PolicyError(ConsentryError):
    """A rule forbids the action; `reason_codes` says which."""

    def __init__(self, message: str, *, reason_codes: tuple[str, ...] = ()):
        super().__init__(message)
        self.reason_codes = reason_codes


class ConnectorError(ConsentryError):
    """A vendor API call failed. `retryable` says whether trying again later can help.

    `status` and `code` are the HTTP status and the vendor's error code; `response` keeps the raw response for
    debugging and never appears in `str(error)`.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        code: str | None = None,
        response: object = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code
        self.response = response


class RateLimitedError(ConnectorError):
    """The vendor's limit was hit and retries ran out; wait `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, retryable=True, **details)
        self.retry_after = retry_after


class QuotaExhaustedError(ConnectorError):
    """A daily budget is spent (or down to the configured reserve): stop rather than starve the account."""


class WebhookVerificationError(ConsentryError):
    """A webhook request is not authentic, malformed, stale or from the future; nothing was stored."""


class WebhookPayloadError(WebhookVerificationError):
    """An authentic webhook request whose payload cannot be read (400, not 401: the secret is right)."""
