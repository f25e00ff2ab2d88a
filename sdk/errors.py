"""The project's exceptions, grouped by what the caller should do about them.

`str(error)` never carries a response body, an email address or a phone number: messages name fields and
codes, never values.
"""


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
