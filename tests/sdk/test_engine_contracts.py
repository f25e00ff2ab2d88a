"""Engine contracts: default deny, reasons with sources and confidence, facts validation, retention anniversaries,
and the package boundaries of STYLE.md."""

import ast
from pathlib import Path

import pytest

from consentry import sdk
from consentry.sdk import InvalidInputError, evaluate, request_from_fields
from consentry.sdk.facts import Facts
from consentry.sdk.vocabulary import Confidence

SDK = Path(sdk.__file__).parent


def decide(*, jurisdiction="FR", channel="email", audience="b2c", at="2026-09-15T10:00:00+02:00", **facts):
    return evaluate(
        request_from_fields(
            {"jurisdiction": jurisdiction, "channel": channel, "audience": audience, "evaluated_at": at, "facts": facts}
        )
    )


def test_an_unknown_jurisdiction_is_never_allowed():
    decision = decide(jurisdiction="XX", consent_state="opt_in")
    assert not decision.allowed
    assert "NO_RULE" in decision.reason_codes


def test_a_missing_audience_is_never_allowed_and_says_what_is_missing():
    decision = decide(audience=None)
    assert not decision.allowed
    assert "audience" in decision.missing_facts


def test_every_reason_has_sources_and_a_known_confidence():
    decision = decide(
        channel="phone_human", callee_timezone="Europe/Paris", bloctel_registered=False, at="2026-08-10T11:00:00+02:00"
    )
    assert decision.reasons
    for reason in decision.reasons:
        assert reason.sources, reason.code
        assert reason.confidence in set(Confidence)


@pytest.mark.parametrize(
    ("day", "verdict", "code"),
    [
        ("2026-11-22", "allowed_with_conditions", None),
        ("2026-11-23", "allowed_with_conditions", "FR_RETENTION_RECONFIRM"),
        ("2026-11-24", "forbidden", "FR_RETENTION_PROSPECT_3Y"),
    ],
)
def test_prospect_retention_ends_three_years_after_the_last_contact_from_the_prospect(day, verdict, code):
    decision = decide(channel="postal", at=f"{day}T10:00:00+01:00", last_interaction="2023-11-23")
    assert decision.verdict.value == verdict
    assert "FR_RETENTION_PROSPECT_3Y" in decision.reason_codes
    if code:
        assert code in decision.reason_codes


def test_customer_retention_runs_from_the_end_of_the_relationship():
    kept = decide(channel="postal", existing_customer=True, relationship_end_date="2024-01-10")
    expired = decide(channel="postal", existing_customer=True, relationship_end_date="2023-01-10")
    assert kept.allowed
    assert not expired.allowed
    assert "FR_RETENTION_CUSTOMER_3Y" in expired.reason_codes


def test_an_email_open_does_not_restart_the_retention_clock():
    decision = decide(channel="postal", last_interaction="2023-01-01", last_open="2026-06-01")
    assert not decision.allowed


@pytest.mark.parametrize(
    ("facts", "key"),
    [
        ({"shoe_size": 42}, "shoe_size"),
        ({"consent_date": "jane@example.com"}, "consent_date"),
        ({"calls_in_last_30_days": "many"}, "calls_in_last_30_days"),
    ],
)
def test_bad_facts_name_the_key_never_the_value(facts, key):
    with pytest.raises(InvalidInputError) as error:
        Facts(facts)
    assert key in str(error.value)
    for value in map(str, facts.values()):
        assert value not in str(error.value) or value == key


def test_facts_are_immutable_and_unknown_names_are_attribute_errors():
    facts = Facts({"existing_customer": "true"})
    assert facts.existing_customer is True
    assert facts.consent_state is None
    with pytest.raises(AttributeError):
        facts.existing_customer = False
    with pytest.raises(AttributeError):
        _ = facts.no_such_fact


def test_the_public_surface_is_pinned():
    assert sorted(sdk.__all__) == sorted(
        [
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
    )
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted(SDK.rglob("*.py")), ids=lambda p: str(p.relative_to(SDK)))
def test_sdk_imports_no_connector_no_server_and_no_web_framework(path):
    forbidden = {"connectors", "webhook_server", "flask", "werkzeug"}
    crossing = [name for name in imported_modules(path) if name.split(".")[0] in forbidden]
    assert crossing == []
