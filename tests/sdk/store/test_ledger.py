"""The ledger on a real SQLite file and a real PostgreSQL server."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from consentry.sdk.consent_state import ConsentEvent, ConsentStatus
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.ledger import Ledger
from consentry.sdk.store import consent_events, persons
from consentry.sdk.suppression import SuppressionList

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
PROOF = {"method": "unticked_checkbox", "collection_point": "https://shop.example/newsletter", "wording": "Je veux"}


def make_event(key, kind, *, days=0, channel="email", **extra):
    if kind == "regranted":
        extra = {**PROOF, **extra}
    return ConsentEvent(key, kind, channel, T0 + timedelta(days=days), "mailchimp", "acme", **extra)


@pytest.fixture
def suppression(engine, keyring):
    return SuppressionList(engine, keyring)


@pytest.fixture
def ledger(engine, suppression):
    return Ledger(engine, suppression)


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_webhook_delivered_twice_records_one_event(ledger, engine):
    assert ledger.append(make_event("mc-1", "withdrawn"), email="Jane.Doe@Example.com")
    assert not ledger.append(make_event("mc-1", "withdrawn"), email="jane.doe@example.com ")
    assert count(engine, consent_events) == 1
    assert count(engine, persons) == 1


def test_the_state_is_derived_from_the_log(ledger):
    ledger.append(make_event("a", "granted", method="imported"), email="jane@example.com")
    assert ledger.state(channel="email", advertiser="acme", email="jane@example.com").status is ConsentStatus.GRANTED
    ledger.append(make_event("b", "withdrawn", days=2), email="jane@example.com")
    ledger.append(make_event("c", "granted", days=1, method="imported"), email="jane@example.com")  # arrives late
    state = ledger.state(channel="email", advertiser="acme", email="jane@example.com")
    assert state.status is ConsentStatus.OPTED_OUT
    assert state.event_key == "b"


def test_an_opt_out_lands_on_the_suppression_list_for_every_identifier(ledger, suppression):
    ledger.append(make_event("a", "granted", method="imported"), email="jane@example.com", phone="+33612345678")
    ledger.append(make_event("b", "objected", channel="all", days=1), email="jane@example.com")
    assert suppression.check(IdentifierKind.PHONE, "06 12 34 56 78").covers("sms")
    assert suppression.check(IdentifierKind.EMAIL, "JANE@example.com").reason_code == "GDPR_OBJECTION_ABSOLUTE"


def test_a_newer_provable_consent_lifts_the_suppression_for_its_channel_only(ledger, suppression):
    ledger.append(make_event("o", "objected", channel="all"), email="jane@example.com")
    ledger.append(make_event("r", "regranted", days=5), email="jane@example.com")
    entry = suppression.check(IdentifierKind.EMAIL, "jane@example.com")
    assert not entry.covers("email")
    assert entry.covers("sms")
    assert ledger.state(channel="email", advertiser="acme", email="jane@example.com").status is ConsentStatus.GRANTED


def test_a_new_persons_whole_history_in_one_batch_decides_their_suppression(ledger, suppression):
    """People created by the batch are judged on the rows just written, in order, not on a read-back."""
    ledger.append_many(
        [
            (make_event("o", "objected", channel="all"), "new.one@example.com", None),
            (make_event("r", "regranted", days=5), "new.one@example.com", None),
            (make_event("w", "withdrawn", days=1), "new.two@example.com", "+33612345678"),
            (make_event("g", "regranted", channel="sms"), "new.two@example.com", "+33612345678"),
        ]
    )
    one = suppression.check(IdentifierKind.EMAIL, "new.one@example.com")
    assert not one.covers("email")
    assert one.covers("sms")
    # every identifier of the person, and only the channel still withdrawn
    assert suppression.check(IdentifierKind.PHONE, "+33612345678").channels == frozenset({"email"})


def test_an_identifier_learnt_in_a_batch_is_suppressed_with_the_others(ledger, suppression, engine):
    ledger.append(make_event("a", "granted", method="imported"), phone="+33612345678")
    ledger.append_many([(make_event("b", "withdrawn", channel="sms", days=1), "jane@example.com", "+33612345678")])
    assert suppression.check(IdentifierKind.EMAIL, "jane@example.com").covers("sms")
    assert count(engine, persons) == 1


def test_recording_new_peoples_opt_outs_reads_nothing_back(ledger, engine):
    """The inbox's hot path: a person this transaction creates has no history and no identifier to re-read."""
    executed = []
    event.listen(engine, "before_cursor_execute", lambda *args: executed.append(args[2].split()[0]))
    ledger.append_many([(make_event(f"k{n}", "withdrawn"), f"new{n}@example.com", None) for n in range(20)])
    assert [verb for verb in executed if verb.upper() == "SELECT"] == ["SELECT", "SELECT"]  # people; suppression


@pytest.mark.parametrize(
    ("identity", "event"),
    [
        ({"email": "not-an-email"}, lambda: make_event("x", "withdrawn")),
        ({"phone": "12"}, lambda: make_event("x", "withdrawn")),
        ({}, lambda: make_event("x", "withdrawn")),
        ({"email": "jane@example.com"}, lambda: make_event("x", "withdrawn", channel="pigeon")),
        ({"email": "jane@example.com"}, lambda: ConsentEvent("x", "regranted", "email", T0, "mailchimp", "acme")),
    ],
)
def test_bad_input_is_rejected_and_writes_nothing(ledger, engine, identity, event):
    with pytest.raises(InvalidInputError) as error:
        ledger.append(event(), **identity)
    assert "@" not in str(error.value)
    assert count(engine, consent_events) == 0
    assert count(engine, persons) == 0


def test_a_batch_with_one_bad_identifier_writes_nothing(ledger, engine):
    items = [(make_event("a", "withdrawn"), "ok@example.com", None), (make_event("b", "withdrawn"), "broken", None)]
    with pytest.raises(InvalidInputError):
        ledger.append_many(items)
    assert count(engine, consent_events) == 0


def test_proof_export_holds_the_events_and_their_proof(ledger):
    ledger.append(make_event("r", "regranted", ip="192.0.2.7", user_agent="Firefox"), email="jane@example.com")
    proof = ledger.proof(email="jane@example.com")
    assert proof["person"]["email"] == "jane@example.com"
    [recorded] = proof["events"]
    assert recorded["wording"] == "Je veux"
    assert recorded["ip"] == "192.0.2.7"
    assert recorded["occurred_at"] == T0.isoformat()
    assert proof["states"] == [
        {
            "advertiser": "acme",
            "purpose": "prospecting",
            "channel": "email",
            "status": "granted",
            "since": T0.isoformat(),
            "event_key": "r",
            "provable": True,
        }
    ]


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from consentry.sdk.consent_state import ConsentEvent
from consentry.sdk.ledger import Ledger
from consentry.sdk.store import make_engine
from consentry.sdk.suppression import Keyring, SuppressionList

url, prefix, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = make_engine(url)
ledger = Ledger(engine, SuppressionList(engine, Keyring({"p1": b"test-pepper-0123456789"}, "p1")))
start = datetime(2026, 3, 1, tzinfo=UTC)
for number in range(total):
    event = ConsentEvent(f"{prefix}-{number}", "withdrawn", "email", start + timedelta(days=number % 30), "t", "acme")
    ledger.append(event, email=f"person{number % 7}@example.com")
"""


def test_two_processes_writing_at_once_lose_no_event(database_url, engine):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, database_url, name, "60"], stderr=subprocess.PIPE)
        for name in ("a", "b")
    ]
    outcomes = []
    try:
        for writer in writers:
            _, errors = writer.communicate(timeout=120)
            outcomes.append((writer.returncode, errors.decode()[-2000:]))
    finally:
        for writer in writers:  # a failure must not leave the other writer running into the next test
            if writer.poll() is None:
                writer.kill()
                writer.communicate()
    for returncode, errors in outcomes:
        assert returncode == 0, errors
    assert count(engine, consent_events) == 120
    assert count(engine, persons) == 7
