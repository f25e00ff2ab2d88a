"""API keys: shown once, stored as a digest, scoped, revocable; and the answers kept for idempotency keys."""

import pytest
from sqlalchemy import MetaData, select

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.store import api_keys, idempotency_keys
from consentry.webhook_server.api.store import (
    SCOPES,
    ApiKey,
    create_key,
    find_key,
    list_keys,
    recall,
    remember,
    revoke_key,
)


def every_value(engine) -> str:
    """Every cell of every table, as text: where a secret would show if it were stored."""
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.connect() as connection:
        cells = [repr(tuple(row)) for table in reflected.sorted_tables for row in connection.execute(select(table))]
    return "\n".join(cells)


def test_a_key_is_found_with_its_scopes_and_stored_only_as_its_digest(engine):
    raw = create_key(engine, "dialer", ["calls", "decide"])
    assert raw.startswith("csk_")
    assert len(raw) > 40
    assert find_key(engine, raw) == ApiKey(name="dialer", scopes=frozenset({"calls", "decide"}))
    assert raw not in every_value(engine)
    assert raw.removeprefix("csk_") not in every_value(engine)
    with engine.connect() as connection:
        stored = connection.execute(select(api_keys.c.key_hash, api_keys.c.scopes)).one()
    assert len(stored.key_hash) == 64
    assert stored.scopes == "calls,decide"


def test_two_keys_are_different_secrets(engine):
    assert create_key(engine, "one", ["decide"]) != create_key(engine, "two", ["decide"])


@pytest.mark.parametrize("presented", ["", None, "csk_not-a-key", "x" * 10_000])
def test_an_unknown_key_is_not_found(engine, presented):
    create_key(engine, "platform", ["decide"])
    assert find_key(engine, presented) is None


def test_a_revoked_key_is_not_found_and_is_listed_as_revoked(engine):
    raw = create_key(engine, "old-form", ["record"])
    assert revoke_key(engine, "old-form") is True
    assert find_key(engine, raw) is None
    assert revoke_key(engine, "old-form") is False  # nothing left to revoke
    assert revoke_key(engine, "never-made") is False
    (listed,) = list_keys(engine)
    assert listed["name"] == "old-form"
    assert listed["revoked_at"] is not None


def test_the_list_gives_names_scopes_and_dates_never_the_digest(engine):
    create_key(engine, "b-proof", ["read_proof"])
    create_key(engine, "a-all", SCOPES)
    listed = list_keys(engine)
    assert [key["name"] for key in listed] == ["a-all", "b-proof"]
    assert listed[0]["scopes"] == sorted(SCOPES)
    assert set(listed[0]) == {"name", "scopes", "created_at", "revoked_at"}
    assert listed[0]["created_at"].tzinfo is not None
    assert listed[0]["revoked_at"] is None


@pytest.mark.parametrize(
    ("name", "scopes", "field"),
    [
        ("dialer", ["calls", "admin"], "scopes"),
        ("dialer", [], "scopes"),
        ("dialer", "decide,,everything", "scopes"),
        ("", ["decide"], "name"),
        ("   ", ["decide"], "name"),
        ("x" * 61, ["decide"], "name"),
        ("has space", ["decide"], "name"),
    ],
)
def test_a_bad_name_or_scope_is_refused_and_nothing_is_written(engine, name, scopes, field):
    with pytest.raises(InvalidInputError) as raised:
        create_key(engine, name, scopes)
    assert raised.value.field == field
    assert list_keys(engine) == []


def test_scopes_may_be_given_as_the_command_line_writes_them(engine):
    raw = create_key(engine, "forms", "record, read_proof")
    assert find_key(engine, raw).scopes == {"record", "read_proof"}


def test_a_name_in_use_is_refused(engine):
    first = create_key(engine, "dialer", ["calls"])
    with pytest.raises(InvalidInputError) as raised:
        create_key(engine, "dialer", ["decide"])
    assert raised.value.field == "name"
    assert find_key(engine, first).scopes == {"calls"}
    revoke_key(engine, "dialer")
    with pytest.raises(InvalidInputError):  # a revoked key keeps its name: the list stays an audit trail
        create_key(engine, "dialer", ["decide"])


def test_an_idempotency_key_recalls_the_first_answer_per_endpoint(engine):
    assert recall(engine, "k-1", "consents") is None
    remember(engine, "k-1", "consents", "a" * 64, 201, {"event_key": "e-1", "new": True})
    remember(engine, "k-1", "consents", "b" * 64, 200, {"event_key": "e-2"})  # a racing second request: ignored
    assert recall(engine, "k-1", "consents") == ("a" * 64, 201, {"event_key": "e-1", "new": True})
    assert recall(engine, "k-1", "calls") is None  # the same key on another endpoint is another request
    with engine.connect() as connection:
        assert len(connection.execute(select(idempotency_keys)).all()) == 1


def test_an_overlong_idempotency_key_is_refused(engine):
    with pytest.raises(InvalidInputError) as raised:
        remember(engine, "k" * 201, "consents", "a" * 64, 201, {})
    assert raised.value.field == "Idempotency-Key"
