"""The sync and opt-outs: an opt-out read from a CRM is never lost, and a push the vendor refused is never
recorded as applied."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from consentry.sdk.consent_state import ConsentEvent, ConsentStatus
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import contacts, propagation_jobs
from consentry.webhook_server.sync import run_sync

from .memory_crm import RECORDS, REFUSED, Record

T = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
JANE = "jane@example.com"


@pytest.fixture
def runtime(memory_runtime):
    return memory_runtime


def email_state(runtime) -> ConsentStatus:
    return runtime.services.ledger.state(channel="email", advertiser="default", email=JANE).status


def double_opt_in(at: datetime) -> ConsentEvent:
    return ConsentEvent(
        "doi-1",
        "regranted",
        "email",
        at,
        "website",
        "default",
        method="double_opt_in",
        collection_point="https://shop.example/newsletter",
        wording="Yes, send me the newsletter",
    )


def test_an_opt_out_made_again_after_a_newer_consent_is_recorded_and_kept(runtime):
    """Before, the second opt-out had the first one's ledger key: it was dropped as a duplicate, and the sync then
    re-subscribed the person in the CRM on the strength of the consent it had just been withdrawn from."""
    RECORDS["c-1"] = Record(JANE, T, {"email"})
    run_sync(runtime, now=T + timedelta(minutes=1))
    assert email_state(runtime) is ConsentStatus.OPTED_OUT
    runtime.services.ledger.append(double_opt_in(T + timedelta(days=1)), email=JANE)
    run_sync(runtime, now=T + timedelta(days=1, minutes=1))
    assert email_state(runtime) is ConsentStatus.GRANTED
    assert RECORDS["c-1"].opted_out == set()  # the newer, provable consent lifted it

    RECORDS["c-1"].opted_out.add("email")
    RECORDS["c-1"].updated_at = T + timedelta(days=3)
    summary = run_sync(runtime, now=T + timedelta(days=3, minutes=1))
    assert summary.systems["memory"].new_events == 1
    assert email_state(runtime) is ConsentStatus.OPTED_OUT
    assert RECORDS["c-1"].opted_out == {"email"}
    assert runtime.services.suppression.check(IdentifierKind.EMAIL, JANE) is not None


def test_reading_an_unchanged_opt_out_again_adds_nothing(runtime):
    RECORDS["c-1"] = Record(JANE, T, {"email"})
    first = run_sync(runtime, now=T + timedelta(minutes=1), full=True)
    again = run_sync(runtime, now=T + timedelta(minutes=2), full=True)
    assert (first.systems["memory"].new_events, again.systems["memory"].new_events) == (1, 0)


def test_a_push_the_vendor_refused_is_a_failed_job_and_is_pushed_again(runtime):
    """Before, every push was recorded done and the record marked opted out: no later sync pushed it again."""
    RECORDS["c-1"] = Record(JANE, T)
    withdrawal = ConsentEvent("form-1", "withdrawn", "email", T + timedelta(minutes=5), "website", "default")
    runtime.services.ledger.append(withdrawal, email=JANE)
    REFUSED.add(JANE)
    refused = run_sync(runtime, now=T + timedelta(minutes=10))
    assert refused.systems["memory"].unsubscribes_pushed == 0
    engine = runtime.services.engine
    with engine.connect() as connection:
        job = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
        held = connection.execute(select(contacts.c.opted_out_channels)).scalar_one()
    assert tuple(job) == ("failed", "REJECTED_INVALID_EMAIL")  # for the workers to retry, with backoff
    assert held == ""

    REFUSED.clear()
    accepted = run_sync(runtime, now=T + timedelta(minutes=20))
    assert accepted.systems["memory"].unsubscribes_pushed == 1
    assert RECORDS["c-1"].opted_out == {"email"}


def test_a_batch_refused_without_naming_an_item_leaves_every_push_to_retry(runtime):
    for number, email in enumerate((JANE, "john@example.com")):
        RECORDS[f"c-{number}"] = Record(email, T)
        withdrawal = ConsentEvent(f"form-{number}", "withdrawn", "email", T + timedelta(minutes=5), "web", "default")
        runtime.services.ledger.append(withdrawal, email=email)
    REFUSED.add("*")
    summary = run_sync(runtime, now=T + timedelta(minutes=10))
    assert summary.systems["memory"].unsubscribes_pushed == 0
    with runtime.services.engine.connect() as connection:
        statuses = list(connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)))
    assert sorted(tuple(row) for row in statuses) == [("failed", "REJECTED_BATCH_REFUSED")] * 2


def test_the_systems_echo_of_a_push_arriving_before_the_push_returns_is_known_for_an_echo(runtime):
    """Before, the sync wrote its jobs after the push: the vendor's webhook for it could arrive first and was taken
    for a new opt-out, recorded under the vendor's name and fanned out again."""
    from consentry.connectors.base import InboundEvent
    from consentry.sdk.consent_state import EventKind
    from consentry.webhook_server.inbox import ingest

    from .memory_crm import DURING_PUSH

    RECORDS["c-1"] = Record(JANE, T)
    withdrawal = ConsentEvent("form-1", "withdrawn", "email", T + timedelta(minutes=5), "website", "default")
    runtime.services.ledger.append(withdrawal, email=JANE)
    results = []

    def echo_arrives() -> None:
        event = InboundEvent(
            event_key="memory-webhook-1",
            kind=EventKind.WITHDRAWN,
            channel="email",
            occurred_at=T + timedelta(minutes=10),
            system="memory",
            email=JANE,
        )
        results.append(ingest(runtime.services, [event], targets=["memory", "other"], advertiser="default"))

    DURING_PUSH.append(echo_arrives)
    try:
        run_sync(runtime, now=T + timedelta(minutes=10))
    finally:
        DURING_PUSH.clear()
    [result] = results
    assert result.echoes == 1
    assert result.job_ids == []
    with runtime.services.engine.connect() as connection:
        job = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.lease_until)).one()
    assert tuple(job) == ("done", None)


def test_a_sync_that_dies_mid_push_leaves_its_job_to_the_workers(runtime):
    RECORDS["c-1"] = Record(JANE, T)
    withdrawal = ConsentEvent("form-1", "withdrawn", "email", T + timedelta(minutes=5), "website", "default")
    runtime.services.ledger.append(withdrawal, email=JANE)
    from .memory_crm import DURING_PUSH

    def dies() -> None:
        raise KeyboardInterrupt

    DURING_PUSH.append(dies)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sync(runtime, now=T + timedelta(minutes=10))
    finally:
        DURING_PUSH.clear()
    from consentry.webhook_server.propagation import due_targets

    later = datetime.now(UTC) + timedelta(minutes=11)
    assert due_targets(runtime.services.engine, now=later) == ["memory"]
