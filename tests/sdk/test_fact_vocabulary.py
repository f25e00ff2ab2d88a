"""A value outside a fact's vocabulary is an error naming the fact and the accepted values, never a guess: before,
`consent_state: maybe` or `Granted` was silently read as "no consent"."""

from datetime import UTC, datetime

import pytest

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.facts import CONSENT_STATES, Facts
from consentry.sdk.models import Contact, Request
from consentry.sdk.rules import evaluate
from consentry.sdk.scenarios import parse_scenario, run_scenario
from consentry.sdk.vocabulary import Audience, Channel


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("consent_state", "maybe"),
        ("data_source", "somewhere"),
        ("consent_collected_by", "a friend"),
        ("consent_channel", "carrier pigeon"),
        ("robinson_channels", "postal;telegraph"),
        ("request", ["access", "jane@example.com"]),
        ("sender_type", "charty"),
    ],
)
def test_a_word_outside_the_vocabulary_is_an_error_naming_the_accepted_words(key, value):
    with pytest.raises(InvalidInputError) as error:
        Facts({key: value})
    message = str(error.value)
    assert repr(key) in message
    assert "must be one of" in message
    assert "jane@example.com" not in message
    assert "maybe" not in message


def test_every_consent_state_is_listed_in_the_error():
    with pytest.raises(InvalidInputError) as error:
        Facts({"consent_state": "maybe"})
    assert all(state in str(error.value) for state in CONSENT_STATES)


def decide(**facts):
    contact = Contact(audience=Audience.CONSUMER, jurisdiction="FR", facts=Facts(facts))
    return evaluate(Request(contact=contact, channel=Channel.EMAIL, at=datetime(2026, 11, 23, 10, tzinfo=UTC)))


def test_case_and_surrounding_spaces_are_normalised():
    assert Facts({"consent_state": "  Granted "}).consent_state == "granted"
    assert decide(consent_state=" OPT_IN").verdict == decide(consent_state="opt_in").verdict
    assert decide(consent_state="opt_in").allowed


def test_a_scenario_with_a_word_outside_the_vocabulary_is_an_error_not_a_decision():
    raw = {
        "id": "BAD-1",
        "jurisdiction": "FR",
        "channel": "email",
        "audience": "b2c",
        "action": "send",
        "evaluated_at": "2026-11-23T10:00:00+01:00",
        "facts": {"consent_state": "maybe"},
        "expected": {"decision": "forbidden"},
    }
    scenario = parse_scenario(raw, 1)
    assert scenario.error is not None
    assert "consent_state" in scenario.error
    assert not run_scenario(scenario).passed


def test_null_is_unknown_and_absent_is_irrelevant():
    facts = Facts({"bloctel_registered": None, "consent_state": "opt_in"})
    assert facts.bloctel_registered is None
    assert facts.unknown == {"bloctel_registered"}
    assert Facts({"consent_state": "opt_in"}).unknown == frozenset()
    assert facts != Facts({"consent_state": "opt_in"})
    assert facts.replace(consent_state="none").unknown == {"bloctel_registered"}


def test_a_csv_row_with_a_word_outside_the_vocabulary_is_an_error_for_that_row_only():
    from tests.sdk.test_contacts_csv import check, contacts_csv, jsonl_records

    header = ("contact_id", "audience", "jurisdiction", "time_zone", "consent_state", "bloctel_registered")
    source = contacts_csv(
        ("good", "b2c", "FR", "Europe/Paris", "opt_in", "false"),
        ("bad", "b2c", "FR", "Europe/Paris", "Maybe", "false"),
        header=header,
    )
    records = jsonl_records(check(source, channel=Channel.EMAIL)[0])
    assert records["good"]["decision"] == "allowed_with_conditions"
    assert "consent_state" in records["bad"]["error"]
    assert "opt_in" in records["bad"]["error"]
    assert "Maybe" not in records["bad"]["error"]


@pytest.mark.parametrize("key", ["withdrawal_date", "objection_date", "opted_out_on", "suppression_date"])
def test_a_null_that_means_none_is_not_held_against_the_contact(key):
    """`withdrawal_date: null` says there was no withdrawal: the consent stands."""
    assert decide(consent_state="opt_in").verdict == decide(consent_state="opt_in", **{key: None}).verdict
    assert decide(consent_state="opt_in", **{key: None}).allowed


def test_a_null_that_counts_against_the_contact_is_named_in_the_decision():
    """An unknown soft opt-in condition: the exception does not apply, and the decision says which fact to give."""
    base = {
        "existing_customer": True,
        "purchase_made": True,
        "similar_product": True,
        "same_legal_entity_as_seller": True,
        "objection_offered_at_collection": True,
    }
    assert decide(**base).allowed
    unknown = decide(**{**base, "same_legal_entity_as_seller": None})
    assert not unknown.allowed
    assert "FR_SOFT_OPTIN_OTHER_ENTITY" in unknown.reason_codes
