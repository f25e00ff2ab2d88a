"""Retention plan/apply and erasure on real databases; the erased identifiers leave no bytes in the SQLite file."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consentry.sdk import retention
from consentry.sdk.consent_state import ConsentEvent
from consentry.sdk.erasure import erase
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.ledger import Ledger
from consentry.sdk.persons import ensure_person
from consentry.sdk.store import call_log, contacts, erasures, persons
from consentry.sdk.suppression import SuppressionList

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def suppression(engine, keyring):
    return SuppressionList(engine, keyring)


def add_contact(engine, email, *, record, last_inbound=None, customer=False, ended=None, jurisdiction="FR"):
    with engine.begin() as connection:
        person = ensure_person(connection, email, None)
        connection.execute(
            contacts.insert().values(
                person_id=person,
                source_system="hubspot",
                source_record_id=record,
                jurisdiction=jurisdiction,
                audience="b2c",
                is_customer=customer,
                last_inbound_contact=last_inbound,
                relationship_end=ended,
                updated_at=NOW,
            )
        )


def test_the_plan_lists_expired_prospects_and_anniversaries_and_keeps_the_rest(engine):
    add_contact(engine, "old@example.com", record="1", last_inbound=date(2023, 11, 22))
    add_contact(engine, "anniversary@example.com", record="2", last_inbound=date(2023, 11, 23))
    add_contact(engine, "recent@example.com", record="3", last_inbound=date(2025, 1, 1))
    add_contact(engine, "customer@example.com", record="4", customer=True, ended=date(2023, 6, 1))
    add_contact(engine, "current@example.com", record="5", customer=True, ended=date(2025, 6, 1))
    plan = {item.source_record_id: item for item in retention.plan(engine, at=NOW)}
    assert plan["1"].action == "delete"
    assert "FR_RETENTION_PROSPECT_3Y" in plan["1"].reason_codes
    assert plan["2"].action == "repermission"
    assert plan["4"].action == "delete"
    assert "FR_RETENTION_CUSTOMER_3Y" in plan["4"].reason_codes
    assert "3" not in plan
    assert "5" not in plan


def test_apply_deletes_what_the_plan_lists_and_nothing_else(engine):
    add_contact(engine, "old@example.com", record="1", last_inbound=date(2023, 1, 1))
    add_contact(engine, "recent@example.com", record="3", last_inbound=date(2025, 1, 1))
    assert retention.apply(engine, at=NOW) == 1
    with engine.connect() as connection:
        left = connection.execute(select(contacts.c.source_record_id)).scalars().all()
        people = connection.execute(select(persons.c.email)).scalars().all()
    assert left == ["3"]
    assert people == ["recent@example.com"]


def test_a_person_called_within_30_days_keeps_their_identifiers_for_the_call_cap(engine):
    """Before, retention removed the person and the call log then named nobody: the next call counted from zero."""
    add_contact(engine, "called@example.com", record="1", last_inbound=date(2023, 1, 1))
    add_contact(engine, "called-long-ago@example.com", record="2", last_inbound=date(2023, 1, 1))
    with engine.begin() as connection:
        ids = dict(connection.execute(select(persons.c.email, persons.c.id)).all())
        for email, called in (
            ("called@example.com", NOW - timedelta(days=3)),
            ("called-long-ago@example.com", NOW - timedelta(days=40)),
        ):
            connection.execute(
                call_log.insert().values(
                    person_id=ids[email],
                    advertiser="default",
                    event_key=f"call-{email}",
                    outcome="no_answer",
                    called_at=called,
                    recorded_at=called,
                )
            )
    assert retention.apply(engine, at=NOW) == 2  # both contacts' data expired
    with engine.connect() as connection:
        people = connection.execute(select(persons.c.email)).scalars().all()
    assert people == ["called@example.com"]


def test_erasure_keeps_only_the_suppression_hash(engine, suppression):
    ledger = Ledger(engine, suppression)
    event = ConsentEvent("k", "granted", "email", NOW, "hubspot", "acme", method="imported")
    ledger.append(event, email="erase.me@example.com", phone="+33612345678")
    add_contact(engine, "erase.me@example.com", record="9", last_inbound=date(2026, 1, 1))
    assert erase(engine, suppression, email="Erase.Me@example.com") == (1, 1, 0)
    assert suppression.check(IdentifierKind.EMAIL, "erase.me@example.com").covers("sms")
    assert suppression.check(IdentifierKind.PHONE, "+33612345678").covers("email")
    assert ledger.events(email="erase.me@example.com") == []
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(persons)).scalar_one() == 0
        [erasure] = connection.execute(select(erasures)).all()
    assert "erase" not in " ".join(str(value) for value in erasure)


def test_after_erasure_the_sqlite_file_holds_no_trace_of_the_person(tmp_path, keyring):
    from consentry.sdk.store import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'erase.db'}"
    upgrade(url)
    engine = make_engine(url)
    suppression = SuppressionList(engine, keyring)
    ledger = Ledger(engine, suppression)
    for number in range(50):  # enough rows that the person's pages are shared with others
        ledger.append(
            ConsentEvent(f"k{number}", "granted", "email", NOW, "hubspot", "acme", method="imported"),
            email=f"other{number}@example.com",
        )
    ledger.append(
        ConsentEvent(
            "target",
            "granted",
            "email",
            NOW,
            "hubspot",
            "acme",
            method="imported",
            user_agent="Mozilla/5.0 secret-agent",
        ),
        email="zorro.target@example.com",
        phone="+33698765432",
    )
    erase(engine, suppression, email="zorro.target@example.com")
    engine.dispose()
    files = list(Path(tmp_path).glob("erase.db*"))
    content = b"".join(path.read_bytes() for path in files)
    assert b"other7@example.com" in content  # the scan does see clear text that is there
    for trace in (b"zorro", b"698765432", b"secret-agent"):
        assert trace not in content
