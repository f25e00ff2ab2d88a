"""What the public API records: consents with their proof, opt-outs propagated like webhooks, the call log and the
facts it gives the rules, and what nothing is written for."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from consentry.connectors import registry
from consentry.sdk.erasure import erase
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import call_log, consent_events, persons, propagation_jobs, suppression_entries
from consentry.webhook_server import inbox
from consentry.webhook_server.api.records import call_facts, log_call, proof_of, record_consent
from consentry.webhook_server.runtime import build_runtime

EMAIL = "jane.doe@example.com"
PHONE = "+33612345678"
WHEN = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PROOF = {
    "collection_point": "https://shop.example/newsletter",
    "wording": "Oui, je veux recevoir les offres",
    "wording_version": "v3",
    "method": "double_opt_in",
}
TABLES = (persons, consent_events, suppression_entries, propagation_jobs, call_log)


@pytest.fixture
def runtime(database_url):
    """Two connected systems, alpha and beta, on this database."""
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    registry.register("beta", "tests.webhook_server.relay_connector:BetaConnector")
    runtime = build_runtime(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": "api-test-pepper-0123456789",
            "CONNECTORS": ["alpha", "beta"],
            "CONNECTOR_SETTINGS": {"alpha": {"secret": "alpha-secret"}, "beta": {"secret": "beta-secret"}},
        }
    )
    yield runtime
    runtime.close()


def count(runtime, table) -> int:
    with runtime.services.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def counts(runtime) -> dict[str, int]:
    return {table.name: count(runtime, table) for table in TABLES}


def consent(runtime, **given):
    values = {
        "email": EMAIL,
        "phone": None,
        "channel": "email",
        "kind": "granted",
        "advertiser": "acme",
        "occurred_at": WHEN,
        "event_key": "form-1",
        **PROOF,
    }
    values.update(given)
    return record_consent(runtime, **values)


def call(runtime, **given):
    values = {
        "phone": "06 12 34 56 78",
        "advertiser": "acme",
        "called_at": WHEN,
        "outcome": "no_answer",
        "event_key": "call-1",
    }
    values.update(given)
    return log_call(runtime, **values)


def test_a_consent_is_recorded_with_its_proof_and_read_back(runtime):
    recorded = consent(runtime, ip="203.0.113.7", user_agent="Mozilla/5.0")
    assert recorded.event_key == "form-1"
    assert recorded.new
    (event,) = proof_of(runtime.services.engine, email=" Jane.Doe@Example.com ", phone=None)
    assert event == {
        "event_key": "form-1",
        "kind": "granted",
        "channel": "email",
        "advertiser": "acme",
        "occurred_at": WHEN.isoformat(),
        "recorded_at": event["recorded_at"],
        "source_system": "api",
        **PROOF,
    }
    assert datetime.fromisoformat(event["recorded_at"]).tzinfo is not None
    assert count(runtime, propagation_jobs) == 0  # a consent given is not propagated


@pytest.mark.parametrize("missing", ["collection_point", "wording", "method"])
def test_a_consent_without_its_proof_is_refused_and_nothing_is_written(runtime, missing):
    with pytest.raises(InvalidInputError) as raised:
        consent(runtime, **{missing: None})
    assert raised.value.field == missing
    assert set(counts(runtime).values()) == {0}


def test_a_withdrawal_is_suppressed_and_propagated_to_every_connected_system(runtime):
    recorded = consent(runtime, kind="withdrawn", event_key="form-2", collection_point="https://shop.example/prefs")
    assert recorded.new
    suppression = runtime.services.suppression
    assert suppression.check(IdentifierKind.EMAIL, EMAIL).covers("email")
    with runtime.services.engine.connect() as connection:
        jobs = connection.execute(
            select(propagation_jobs.c.event_key, propagation_jobs.c.source_system, propagation_jobs.c.target_system)
        ).all()
    assert sorted(jobs) == [("form-2", "api", "alpha"), ("form-2", "api", "beta")]
    (event,) = proof_of(runtime.services.engine, email=EMAIL, phone=None)
    assert event["kind"] == "withdrawn"
    assert event["collection_point"] == "https://shop.example/prefs"  # an opt-out keeps its proof too


def test_an_opt_out_event_suppression_and_jobs_are_one_transaction(runtime, monkeypatch):
    def fail(*_args):
        raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(inbox, "announce", fail)  # the last statement of the transaction
    with pytest.raises(RuntimeError):
        consent(runtime, kind="objected")
    assert set(counts(runtime).values()) == {0}


def test_a_replayed_event_key_creates_nothing_new(runtime):
    consent(runtime, kind="objected", channel="all")
    before = counts(runtime)
    again = consent(runtime, kind="objected", channel="all")
    assert again.event_key == "form-1"
    assert not again.new
    assert counts(runtime) == before
    assert not consent(runtime, kind="granted", channel="all").new  # the key is the event's, whatever it says
    assert counts(runtime) == before


def test_calls_are_counted_per_person_and_advertiser_over_30_days(runtime):
    at = WHEN
    for number, days_ago in enumerate([0, 1, 10, 29, 31]):
        call(runtime, event_key=f"c-{number}", called_at=at - timedelta(days=days_ago, hours=-1 if days_ago else 0))
    call(runtime, event_key="other-advertiser", advertiser="globex")
    call(runtime, event_key="after", called_at=at + timedelta(hours=2))  # later than the question
    call(runtime, event_key="c-0")  # the same report again
    engine = runtime.services.engine
    assert call_facts(engine, email=None, phone=PHONE, advertiser="acme", at=at) == {"calls_in_last_30_days": 4}
    assert call_facts(engine, email=None, phone=PHONE, advertiser="globex", at=at) == {"calls_in_last_30_days": 1}
    unknown = call_facts(engine, email="nobody@example.com", phone=None, advertiser="acme", at=at)
    assert unknown == {"calls_in_last_30_days": 0}
    assert count(runtime, propagation_jobs) == 0  # answered or not, a call opts nobody out


def test_a_replayed_call_report_is_logged_once(runtime):
    assert call(runtime).new
    assert not call(runtime, outcome="refused").new
    assert count(runtime, call_log) == 1
    assert count(runtime, consent_events) == 0


@pytest.mark.parametrize("outcome", ["refused", "do_not_call_again"])
def test_a_refusal_is_an_objection_recorded_and_propagated(runtime, outcome):
    called = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 21 November in Paris
    recorded = call(runtime, outcome=outcome, called_at=called, email=EMAIL)
    assert recorded.new
    suppression = runtime.services.suppression
    assert suppression.check(IdentifierKind.PHONE, PHONE).covers("phone_human")
    assert suppression.check(IdentifierKind.EMAIL, EMAIL).covers("phone_human")  # the person's, both identifiers
    assert not suppression.check(IdentifierKind.PHONE, PHONE).covers("sms")
    with runtime.services.engine.connect() as connection:
        targets = connection.execute(
            select(propagation_jobs.c.target_system).where(propagation_jobs.c.event_key == "call-1:objection")
        ).scalars()
        assert sorted(targets) == ["alpha", "beta"]
    (event,) = proof_of(runtime.services.engine, email=None, phone="0612345678")
    assert (event["event_key"], event["kind"], event["channel"]) == ("call-1:objection", "objected", "phone_human")
    paris = timezone(timedelta(hours=1))
    facts = call_facts(runtime.services.engine, email=EMAIL, phone=None, advertiser="acme", at=called + timedelta(1))
    assert facts == {"calls_in_last_30_days": 1, "refused_during_call_date": date(2026, 11, 20)}
    in_paris = call_facts(
        runtime.services.engine,
        email=None,
        phone=PHONE,
        advertiser="acme",
        at=(called + timedelta(1)).astimezone(paris),
    )
    assert in_paris["refused_during_call_date"] == date(2026, 11, 21)


BAD_CONSENTS = [
    ({"email": None, "phone": None}, "email"),
    ({"email": "not-an-address"}, "email"),
    ({"email": None, "phone": "12"}, "phone"),
    ({"kind": "maybe"}, "kind"),
    ({"kind": "regranted"}, "kind"),
    ({"channel": "pigeon"}, "channel"),
    ({"advertiser": ""}, "advertiser"),
    ({"occurred_at": datetime(2026, 11, 20, 10, 0)}, "occurred_at"),
    ({"event_key": ""}, "event_key"),
    ({"event_key": "k" * 201}, "event_key"),
    ({"method": "telepathy"}, "method"),
    ({"wording_version": "v" * 61}, "wording_version"),
    ({"ip": "not an address"}, "ip"),
]


@pytest.mark.parametrize(("given", "field"), BAD_CONSENTS)
@pytest.mark.parametrize("kind", ["granted", "objected"])
def test_bad_consent_input_names_its_field_and_writes_nothing(runtime, given, field, kind):
    with pytest.raises(InvalidInputError) as raised:
        consent(runtime, **{"kind": kind, **given})
    assert raised.value.field == field
    assert set(counts(runtime).values()) == {0}


BAD_CALLS = [
    ({"phone": ""}, "phone"),
    ({"phone": "not a number"}, "phone"),
    ({"email": "jane@"}, "email"),
    ({"outcome": "voicemail"}, "outcome"),
    ({"advertiser": "a" * 121}, "advertiser"),
    ({"called_at": datetime(2026, 11, 20, 10, 0)}, "called_at"),
    ({"event_key": ""}, "event_key"),
    ({"event_key": "k" * 191}, "event_key"),  # no room left for its objection's key
]


@pytest.mark.parametrize(("given", "field"), BAD_CALLS)
def test_bad_call_input_names_its_field_and_writes_nothing(runtime, given, field):
    with pytest.raises(InvalidInputError) as raised:
        call(runtime, **{"outcome": "refused", **given})
    assert raised.value.field == field
    assert set(counts(runtime).values()) == {0}


@pytest.mark.parametrize(
    "given",
    [
        {"email": "jane.doe@example"},
        {"email": None, "phone": "+33 6 12 34 5"},
        {"email": "jane.doe@example.com", "occurred_at": datetime(2026, 11, 20)},
        {"email": "jane.doe@example.com", "channel": "jane.doe@example.com"},
    ],
)
def test_no_email_or_number_in_an_error_message(runtime, given):
    with pytest.raises(InvalidInputError) as raised:
        consent(runtime, **given)
    message = str(raised.value)
    assert "jane" not in message
    assert "12 34" not in message


def test_facts_and_proof_need_an_identifier_and_an_aware_time(runtime):
    engine = runtime.services.engine
    with pytest.raises(InvalidInputError) as raised:
        call_facts(engine, email=None, phone=None, advertiser="acme", at=WHEN)
    assert raised.value.field == "email"
    with pytest.raises(InvalidInputError) as raised:
        call_facts(engine, email=EMAIL, phone=None, advertiser="acme", at=WHEN.replace(tzinfo=None))
    assert raised.value.field == "at"
    with pytest.raises(InvalidInputError):
        proof_of(engine, email=None, phone=None)
    assert proof_of(engine, email="nobody@example.com", phone=None) == []


def test_an_erased_person_leaves_call_rows_naming_nobody_and_is_not_stored_again(runtime):
    call(runtime, email=EMAIL)
    consent(runtime)
    services = runtime.services
    erase(services.engine, services.suppression, email=EMAIL)
    with services.engine.connect() as connection:
        rows = connection.execute(select(call_log)).all()
    assert [row.person_id for row in rows] == [None]
    assert call_facts(services.engine, email=EMAIL, phone=None, advertiser="acme", at=WHEN) == {
        "calls_in_last_30_days": 0
    }
    assert call(runtime, event_key="call-2", outcome="refused").new  # logged, naming nobody
    assert count(runtime, persons) == 0
    assert count(runtime, consent_events) == 0
    assert not consent(runtime, kind="objected", event_key="late").new  # already suppressed everywhere
    assert count(runtime, persons) == 0
    assert consent(runtime, event_key="new-consent").new  # an explicit, provable consent brings them back
    assert count(runtime, persons) == 1
