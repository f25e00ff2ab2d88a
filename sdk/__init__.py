"""Consentry's compliance core: rules, decisions, and (later) the ledger and suppression list.

No web framework here: `sdk` imports neither `connectors`, `webhook_server` nor `flask`.
"""

from .decision import Decision, Effect, Reason
from .errors import ConfigurationError, ConsentryError, InvalidInputError, PolicyError
from .explain import explain
from .facts import Facts
from .models import Contact, Request
from .rules import evaluate
from .scenarios import load_scenarios, request_from_fields, run_scenarios
from .scheduling import next_lawful_call
from .vocabulary import Action, Audience, Channel, Confidence, LegalBasis, SenderType, Verdict

__all__ = [
    "Action",
    "Audience",
    "Channel",
    "Confidence",
    "ConfigurationError",
    "ConsentryError",
    "Contact",
    "Decision",
    "Effect",
    "Facts",
    "InvalidInputError",
    "LegalBasis",
    "PolicyError",
    "Reason",
    "Request",
    "SenderType",
    "Verdict",
    "evaluate",
    "explain",
    "load_scenarios",
    "next_lawful_call",
    "request_from_fields",
    "run_scenarios",
]
