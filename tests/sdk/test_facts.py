"""Facts validation: unknown keys and badly typed values are refused, and errors name the key, never the value.

A value may be an email address or a phone number; STYLE.md forbids either in `str(error)`.
"""

from datetime import UTC, date, datetime, time
from typing import get_args, get_origin, get_type_hints

import pytest

from consentry.sdk import Facts, InvalidInputError, request_from_fields
from consentry.sdk.errors import ConsentryError
from consentry.sdk.facts import FACT_TYPES
from consentry.sdk.models import Contact, Request
from consentry.sdk.rules import evaluate
from consentry.sdk.vocabulary import Action, Audience, Channel, Verdict

EMAIL = "jean.dupont@example.fr"
PHONE = "+33612345678"


def rejection(values: dict) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        Facts(values)
    return caught.value


def accepts(key: str, value) -> bool:
    try:
        Facts({key: value})
    except InvalidInputError:
        return False
    return True


def test_an_unknown_key_is_refused_and_named():
    error = rejection({"shoe_size": 42})
    assert error.field == "shoe_size"
    assert "shoe_size" in str(error)
    assert "42" not in str(error)


def test_invalid_input_is_a_consentry_error_and_a_value_error():
    error = rejection({"shoe_size": 42})
    assert isinstance(error, ConsentryError)
    assert isinstance(error, ValueError)


def test_one_unknown_key_spoils_the_whole_set():
    error = rejection({"consent_state": "opt_in", "consent_dat": "2026-01-01"})
    assert error.field == "consent_dat"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("consent_date", "not a date"),
        ("consent_date", "2026-13-45"),
        ("calls_in_last_30_days", "many"),
        ("calls_in_last_30_days", True),  # a yes/no is not a count
        ("calls_in_last_30_days", "3.5"),
        ("existing_customer", "perhaps"),
        ("existing_customer", 2),
        ("tps_registered", "maybe"),
        ("callee_local_time", "tea time"),
        ("specific_slot_consent", "next tuesday"),
        ("offer", True),
        ("campaign_channels", {"email": True}),
        ("callee_timezone", "Mars/Olympus_Mons"),  # a call window cannot be judged on a clock nobody knows
        ("callee_timezone", "../../etc/passwd"),
    ],
)
def test_a_badly_typed_value_is_refused_naming_the_key_but_not_the_value(key, value):
    error = rejection({key: value})
    assert error.field == key
    assert repr(key) in str(error)
    assert str(value) not in str(error)
    assert repr(value) not in str(error)


@pytest.mark.parametrize("key", sorted(FACT_TYPES))
@pytest.mark.parametrize("secret", [EMAIL, PHONE])
def test_an_email_or_phone_given_for_any_fact_never_reaches_an_error_message(key, secret):
    if accepts(key, secret):
        assert key in Facts({key: secret})  # a text fact (an address, an offer) takes the value as given
        return
    error = rejection({key: secret})
    assert error.field == key
    assert secret not in str(error)
    assert secret not in repr(error)
    assert all(secret not in str(argument) for argument in error.args)
    # The converter's own message (which quotes the value) is not chained into tracebacks.
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


def test_dates_counts_and_yes_no_are_checked_against_email_like_values():
    for key in ("consent_date", "calls_in_last_30_days", "existing_customer", "callee_local_time"):
        assert rejection({key: EMAIL}).field == key


def test_errors_from_scenario_fields_do_not_echo_the_value():
    with pytest.raises(InvalidInputError, match="audience is not one of") as caught:
        request_from_fields(
            {"jurisdiction": "FR", "channel": "email", "audience": EMAIL, "evaluated_at": "2026-09-15T10:00:00+02:00"}
        )
    assert EMAIL not in str(caught.value)
    with pytest.raises(InvalidInputError, match="evaluated_at") as caught:
        request_from_fields({"jurisdiction": "FR", "channel": "email", "audience": "b2c", "evaluated_at": EMAIL})
    assert EMAIL not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("consent_date", "9999-12-31"),  # a CRM's "forever": three years later is past the last date Python holds
        ("acquired_on", "0001-01-01"),
        ("specific_slot_consent", "9999-12-31T23:59:00"),
        ("last_interaction", date(1899, 12, 31)),
    ],
)
def test_a_date_no_company_could_have_recorded_is_refused(key, value):
    error = rejection({key: value})
    assert error.field == key
    assert "out of range (1900 to 2999)" in str(error)


@pytest.mark.parametrize("day", ["1900-01-01", "2999-12-31"])
def test_the_engine_decides_at_both_ends_of_the_date_range(day):
    facts = Facts({"consent_date": day, "acquired_on": day, "last_interaction": day, "withdrawal_date": day})
    contact = Contact(audience=Audience.CONSUMER, jurisdiction="FR", time_zone="Europe/Paris", facts=facts)
    at = datetime(2026, 11, 23, 11, tzinfo=UTC)
    for channel in Channel:
        for action in Action:
            decision = evaluate(Request(contact=contact, channel=channel, at=at, action=action))
            assert decision.verdict in set(Verdict)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Europe/"])
def test_a_contact_in_an_unknown_time_zone_is_refused(zone):
    with pytest.raises(InvalidInputError, match="unknown time zone") as caught:
        Contact(audience=Audience.CONSUMER, jurisdiction="FR", time_zone=zone)
    assert caught.value.field == "time_zone"


def test_a_timestamp_without_an_offset_is_refused():
    with pytest.raises(InvalidInputError, match="UTC offset"):
        request_from_fields(
            {"jurisdiction": "FR", "channel": "email", "audience": "b2c", "evaluated_at": "2026-09-15T10:00:00"}
        )


# -- what is accepted -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "typed"),
    [
        ("existing_customer", "yes", True),
        ("existing_customer", "Oui", True),
        ("existing_customer", "non", False),
        ("existing_customer", "0", False),
        ("calls_in_last_30_days", " 4 ", 4),
        ("consent_date", "2026-09-15T10:00:00+02:00", date(2026, 9, 15)),
        ("consent_date", datetime(2026, 9, 15, 23, 0), date(2026, 9, 15)),
        ("callee_local_time", "12:30", time(12, 30)),
        ("callee_local_time", 750, time(12, 30)),  # YAML 1.1 reads an unquoted 12:30 as 750 minutes
        ("campaign_channels", "email; sms", ("email", "sms")),
        ("campaign_channels", ["email", "postal"], ("email", "postal")),
        ("tps_registered", "unknown", "unknown"),
        ("transfer_consent", "true", True),
        ("callee_timezone", " Indian/Reunion ", "Indian/Reunion"),
    ],
)
def test_values_are_converted_to_their_kind(key, raw, typed):
    assert getattr(Facts({key: raw}), key) == typed


@pytest.mark.parametrize("blank", [None, ""])
def test_a_blank_value_means_unknown(blank):
    facts = Facts({"existing_customer": blank})
    assert facts.existing_customer is None
    assert "existing_customer" not in facts
    assert len(facts) == 0


def test_facts_are_immutable_hashable_and_compared_by_value():
    facts = Facts({"existing_customer": "true", "calls_in_last_30_days": "2"})
    assert facts == Facts({"existing_customer": True, "calls_in_last_30_days": 2})
    assert hash(facts) == hash(Facts({"existing_customer": True, "calls_in_last_30_days": 2}))
    with pytest.raises(AttributeError):
        facts.existing_customer = False
    assert facts.replace(calls_in_last_30_days=3).calls_in_last_30_days == 3
    assert facts.calls_in_last_30_days == 2


def test_replace_validates_like_the_constructor():
    with pytest.raises(InvalidInputError, match="calls_in_last_30_days"):
        Facts({}).replace(calls_in_last_30_days="many")


# -- declared fields ------------------------------------------------------------------------------------------------


def test_every_fact_is_a_declared_typed_field_read_as_none_when_unknown():
    hints = get_type_hints(Facts, include_extras=True)
    assert set(FACT_TYPES) == {name for name in hints if not name.startswith("_")}
    facts = Facts()
    for key in FACT_TYPES:
        assert getattr(facts, key) is None
        assert type(None) in get_args(get_args(hints[key])[0])  # every field may be unknown


def test_a_known_fact_takes_the_type_its_field_declares():
    hints = get_type_hints(Facts)
    facts = Facts({"consent_date": "2026-01-02", "calls_in_last_30_days": "3", "campaign_channels": "email"})
    for key, value in facts.items():
        assert isinstance(value, tuple(get_origin(kind) or kind for kind in get_args(hints[key])))
