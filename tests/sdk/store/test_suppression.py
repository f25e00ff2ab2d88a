"""The hashed suppression list: no identifier in clear, batch checks, import/export, pepper rotation."""

import io

import pytest
from sqlalchemy import func, select

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.identity import IdentifierKind, normalised_again
from consentry.sdk.store import suppression_entries
from consentry.sdk.suppression import Keyring, SuppressionList

EMAIL, PHONE = IdentifierKind.EMAIL, IdentifierKind.PHONE


@pytest.fixture
def suppression(engine, keyring):
    return SuppressionList(engine, keyring)


def entries(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(suppression_entries)).scalar_one()


def test_identifiers_are_normalised_before_hashing(suppression):
    suppression.add(EMAIL, "  Jane.Doe@Example.COM ", channels="email", reason_code="GDPR_OBJECTION_ABSOLUTE")
    suppression.add(PHONE, "06 12 34 56 78", channels="sms;phone_human", reason_code="FR_CONSENT_WITHDRAWN")
    assert suppression.check(EMAIL, "jane.doe@example.com").covers("email")
    assert not suppression.check(EMAIL, "jane.doe@example.com").covers("sms")
    assert suppression.check(PHONE, "+33 6 12 34 56 78").covers("sms")
    assert suppression.check(EMAIL, "someone.else@example.com") is None


def test_a_persons_look_up_finds_the_entry_whatever_form_the_identifiers_come_in(suppression):
    suppression.add(EMAIL, "jane.doe@example.com", channels="email", reason_code="GDPR_OBJECTION_ABSOLUTE")
    suppression.add(PHONE, "+33612345678", channels="sms", reason_code="FR_CONSENT_WITHDRAWN")
    people = [
        ("jane.doe@example.com", None),
        (None, "+33612345678"),  # E.164, as the store keeps it: taken as it is
        (" Jane.Doe@Example.COM", "06 12 34 56 78"),  # a caller's slip: normalised in full, still found
        ("other@example.com", "+33699999999"),
    ]
    found = suppression.of_people(people)
    assert [entry is not None for entry in found] == [True, True, True, False]
    assert found[2].covers("email")
    assert found[2].covers("sms")


def test_normalised_again_takes_e164_as_it_is_and_normalises_the_rest():
    assert normalised_again(PHONE, "+33612345678") == "+33612345678"
    assert normalised_again(PHONE, "06 12 34 56 78") == "+33612345678"
    assert normalised_again(EMAIL, " Jane@Example.COM") == "jane@example.com"
    with pytest.raises(InvalidInputError):
        normalised_again(PHONE, "not a number")


def test_nothing_is_stored_in_clear(suppression, engine):
    suppression.add(EMAIL, "jane.doe@example.com", reason_code="GDPR_OBJECTION_ABSOLUTE")
    with engine.connect() as connection:
        row = connection.execute(select(suppression_entries)).one()
    assert b"jane" not in row.identifier_hash
    assert len(row.identifier_hash) == 32
    assert "jane" not in " ".join(str(value) for value in row)


def test_adding_again_merges_channels(suppression, engine):
    suppression.add(EMAIL, "jane@example.com", channels="email", reason_code="A")
    suppression.add(EMAIL, "jane@example.com", channels="sms", reason_code="B")
    found = suppression.check(EMAIL, "jane@example.com")
    assert found.channels == {"email", "sms"}
    assert entries(engine) == 1


def test_batch_check_answers_in_order_including_repeats(suppression):
    suppression.import_identifiers(EMAIL, ["a@example.com", "c@example.com"], channels="all", reason_code="X")
    answers = list(suppression.check_many(EMAIL, ["a@example.com", "b@example.com", "A@example.com", "c@example.com"]))
    assert [answer is not None for answer in answers] == [True, False, True, True]


def test_the_batch_check_leaves_the_connections_planner_settings_as_they_were(suppression, engine):
    suppression.add(EMAIL, "a@example.com", reason_code="X")
    for _ in range(engine.pool.size() + 1):  # through every pooled connection
        assert [found is not None for found in suppression.check_many(EMAIL, ["a@example.com", "b@example.com"])] == [
            True,
            False,
        ]
    if engine.dialect.name == "postgresql":
        for _ in range(engine.pool.size() + 1):
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SHOW enable_seqscan").scalar_one() == "on"


def test_export_then_import_round_trips(suppression, engine, keyring):
    suppression.import_identifiers(EMAIL, ["a@example.com", "b@example.com"], channels="email", reason_code="X")
    exported = io.StringIO()
    assert suppression.export(exported) == 2
    assert "@" not in exported.getvalue()
    with engine.begin() as connection:
        connection.execute(suppression_entries.delete())
    assert suppression.import_hashed(io.StringIO(exported.getvalue())) == 2
    assert suppression.check(EMAIL, "b@example.com").covers("email")


@pytest.mark.parametrize(
    "bad_line",
    [
        "zz,p1,email,all,X,2026-01-01",
        f"{'ab' * 32},p9,email,all,X,2026-01-01",
        f"{'ab' * 32},p1,fax,all,X,2026-01-01",
        f"{'ab' * 32},p1,email,pigeon,X,2026-01-01",
        f"{'ab' * 32},p1,email,all,X,yesterday",
    ],
)
def test_an_import_with_one_bad_line_writes_nothing(suppression, engine, bad_line):
    good = f"{'cd' * 32},p1,email,all,X,2026-01-01"
    source = io.StringIO(
        "identifier_hash,pepper_id,identifier_kind,channels,reason_code,added_on\n" + f"{good}\n{bad_line}\n"
    )
    with pytest.raises(InvalidInputError):
        suppression.import_hashed(source)
    assert entries(engine) == 0


def test_a_clear_import_with_one_invalid_identifier_writes_nothing(suppression, engine):
    with pytest.raises(InvalidInputError) as error:
        suppression.import_identifiers(EMAIL, ["ok@example.com", "broken@"], channels="all", reason_code="X")
    assert "broken" not in str(error.value)
    assert entries(engine) == 0


def test_pepper_rotation_keeps_old_entries_and_rekeys_them_when_seen(engine):
    old = SuppressionList(engine, Keyring({"p1": b"old-pepper-0123456789"}, "p1"))
    old.add(EMAIL, "jane@example.com", channels="email", reason_code="X")
    rotated = SuppressionList(engine, Keyring({"p1": b"old-pepper-0123456789", "p2": b"new-pepper-0123456789"}, "p2"))
    assert rotated.check(EMAIL, "jane@example.com").covers("email")
    rotated.add(EMAIL, "jane@example.com", channels="sms", reason_code="Y")
    with engine.connect() as connection:
        rows = connection.execute(select(suppression_entries.c.pepper_id, suppression_entries.c.channels)).all()
    assert rows == [("p2", "email;sms")]
    new_only = SuppressionList(engine, Keyring({"p2": b"new-pepper-0123456789"}, "p2"))
    assert new_only.check(EMAIL, "jane@example.com").covers("sms")
