"""Consentry's compliance core: the rules engine and its decisions, the consent ledger, the suppression list.

The names below are what SDK users and connector authors need: the vocabularies, facts and decisions, the errors,
consent events and webhook verification. The rest is public in these modules, each with its own `__all__`:
`consentry.sdk.http` (Transport, ResponsePolicy, Credentials, the limiters: kept out of this list so that
importing `consentry.sdk` does not load requests), `consentry.sdk.consent_state`, `consentry.sdk.webhooks`,
`consentry.sdk.errors`, `consentry.sdk.rules` and `consentry.sdk.store`. Modules and names that start with `_`
are private.

No web framework here: `sdk` imports neither `connectors`, `webhook_server` nor `flask`.
"""

from .consent_state import ConsentEvent, ConsentStatus, EventKind
from .decision import Decision, Effect, Reason
from .errors import (
    ConfigurationError,
    ConnectorError,
    ConsentryError,
    InvalidInputError,
    PolicyError,
    QuotaExhaustedError,
    RateLimitedError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from .explain import explain
from .facts import Facts
from .models import Contact, Request
from .rules import evaluate
from .scenarios import load_scenarios, request_from_fields, run_scenarios
from .scheduling import next_lawful_call
from .vocabulary import Action, Audience, Channel, Confidence, LegalBasis, SenderType, Verdict
from .webhooks import WebhookRequest, WebhookVerifier

__all__ = [
    "Action",
    "Audience",
    "Channel",
    "Confidence",
    "ConfigurationError",
    "ConnectorError",
    "ConsentEvent",
    "ConsentStatus",
    "ConsentryError",
    "Contact",
    "Decision",
    "Effect",
    "EventKind",
    "Facts",
    "InvalidInputError",
    "LegalBasis",
    "PolicyError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "Reason",
    "Request",
    "SenderType",
    "Verdict",
    "WebhookPayloadError",
    "WebhookRequest",
    "WebhookVerificationError",
    "WebhookVerifier",
    "evaluate",
    "explain",
    "load_scenarios",
    "next_lawful_call",
    "request_from_fields",
    "run_scenarios",
]
