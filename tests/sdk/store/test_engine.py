"""The engine every part of Consentry uses: what its errors may say, and what an address may be."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.identity import normalise_email
from consentry.sdk.store import persons

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_database_error_does_not_quote_the_addresses_it_was_given(engine):
    row = {"id": 1, "email": "jane@example.com", "created_at": NOW}
    with engine.begin() as connection:
        connection.execute(insert(persons), [row])
    with pytest.raises(IntegrityError) as error, engine.begin() as connection:
        connection.execute(insert(persons), [row])  # the same address again: a unique constraint fails
    assert "jane@example.com" not in str(error.value)


def test_an_address_longer_than_smtp_carries_is_refused():
    """Before, 5,000 characters passed, and PostgreSQL's column (320) failed the commit instead."""
    assert normalise_email(f"{'a' * 64}@{'b' * 185}.com").endswith(".com")  # 254 characters: the most
    with pytest.raises(InvalidInputError):
        normalise_email(f"{'a' * 64}@{'b' * 186}.com")
