"""An erasure never drops an opt-out on its way, and nothing brings an erased person back in clear: not a sync, a
reconciliation nor a webhook. Every decision (push, tags, report) consults the suppression list."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consentry.sdk.erasure import ErasureIncomplete, erase
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import persons, propagation_jobs, upgrade
from consentry.webhook_server.propagation import run_target
from consentry.webhook_server.report import gather
from consentry.webhook_server.sync import run_sync

from .memory_crm import RECORDS, TAGS, Record
from .relay_connector import UNSUBSCRIBED
from .test_inbox import deliver, optout

T = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
JANE = "jane@example.com"


@pytest.fixture
def relays(relay_app):
    return relay_app


@pytest.fixture
def crm(memory_runtime):
    return memory_runtime


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_an_opt_out_on_its_way_reaches_its_system_after_the_person_is_erased(relays):
    """Before, the erasure deleted the person's jobs with them (ON DELETE CASCADE): beta never heard of it."""
    runtime = relays.extensions["consentry"].runtime
    services = runtime.services
    assert deliver(relays.test_client(), "alpha", [optout("a-1")]).status_code == 200
    erased = erase(services.engine, services.suppression, email=JANE)
    assert erased.opt_outs_held == 1
    assert count(services.engine, persons) == 0

    [outcome] = run_target(services.engine, runtime.connectors, "beta")
    assert outcome.status == "done"
    assert UNSUBSCRIBED["beta"] == {JANE}
    with services.engine.connect() as connection:
        job = connection.execute(select(propagation_jobs)).one()
    assert (job.person_id, job.held_email, job.held_phone) == (None, None, None)  # wiped once delivered


def test_a_done_job_stays_as_an_audit_row_naming_nobody(relays):
    runtime = relays.extensions["consentry"].runtime
    services = runtime.services
    deliver(relays.test_client(), "alpha", [optout("a-1")])
    run_target(services.engine, runtime.connectors, "beta")
    assert erase(services.engine, services.suppression, email=JANE).opt_outs_held == 0
    with services.engine.connect() as connection:
        job = connection.execute(select(propagation_jobs)).one()
    assert (job.status, job.person_id, job.held_email) == ("done", None, None)


def test_a_webhook_naming_an_erased_person_stores_nothing(relays):
    runtime = relays.extensions["consentry"].runtime
    services = runtime.services
    erase(services.engine, services.suppression, email=JANE)
    answer = deliver(relays.test_client(), "alpha", [optout("a-2")])
    assert answer.status_code == 200  # acknowledged: the suppression list already holds the person everywhere
    assert count(services.engine, persons) == 0
    assert count(services.engine, propagation_jobs) == 0
    assert services.suppression.check(IdentifierKind.EMAIL, JANE).covers("sms")


@pytest.mark.parametrize("full", [False, True])
def test_a_sync_or_a_reconciliation_does_not_store_an_erased_person_again(crm, full):
    RECORDS["c-1"] = Record(JANE, T)
    run_sync(crm, now=T + timedelta(minutes=1))
    erase(crm.services.engine, crm.services.suppression, email=JANE)
    RECORDS["c-1"].updated_at = T + timedelta(days=1)  # read again, incrementally too

    summary = run_sync(crm, now=T + timedelta(days=1, minutes=1), full=full, tags=not full)
    assert summary.systems["memory"].skipped == 1
    assert count(crm.services.engine, persons) == 0
    assert crm.services.ledger.events(email=JANE) == []


def test_a_person_who_consents_again_after_an_erasure_is_a_person_again(crm):
    from consentry.sdk.consent_state import ConsentEvent

    erase(crm.services.engine, crm.services.suppression, email=JANE)
    regranted = ConsentEvent(
        "doi-2",
        "regranted",
        "email",
        T,
        "website",
        "default",
        method="double_opt_in",
        collection_point="https://shop.example/newsletter",
        wording="Yes, send me the newsletter",
    )
    crm.services.ledger.append(regranted, email=JANE)
    RECORDS["c-1"] = Record(JANE, T)
    summary = run_sync(crm, now=T + timedelta(minutes=1))
    assert summary.systems["memory"].skipped == 0
    assert count(crm.services.engine, persons) == 1


def test_the_sync_pushes_and_tags_an_opt_out_only_the_suppression_list_holds(crm):
    """Before, the sync decided from the ledger alone: a person on an imported list stayed subscribed and tagged
    allowed in the CRM while `consentry suppress check` said "suppressed"."""
    RECORDS["c-1"] = Record(JANE, T)
    crm.services.suppression.add(IdentifierKind.EMAIL, JANE, channels="all", reason_code="IMPORTED")
    run_sync(crm, now=T + timedelta(minutes=1))
    assert RECORDS["c-1"].opted_out == {"email"}
    assert TAGS["c-1"]["email"] == "forbidden"
    assert TAGS["c-1"]["sms"] == "forbidden"


def test_the_report_counts_a_person_on_the_suppression_list_as_blocked(crm):
    RECORDS["c-1"] = Record(JANE, T)
    run_sync(crm, now=T + timedelta(minutes=1))
    before = gather(crm.services.engine, crm.services.ledger, advertiser="default", at=T)
    crm.services.suppression.add(IdentifierKind.EMAIL, JANE, channels="email", reason_code="IMPORTED")
    after = gather(crm.services.engine, crm.services.ledger, advertiser="default", at=T)
    assert before["reach"][("email", "b2c")]["forbidden"] == 0
    assert after["reach"][("email", "b2c")]["forbidden"] == 1
    assert after["blocked"][("FR_SUPPRESSION_LIST_HIT", "email")] == 1


def test_an_erasure_says_so_when_a_reader_keeps_copies_in_the_write_ahead_log(tmp_path, keyring):
    """Before, the checkpoint's answer was not read: `erase` reported success while a reader held the log, and
    copies of the identifiers stayed in the file."""
    from consentry.sdk.ledger import Ledger
    from consentry.sdk.store import make_engine
    from consentry.sdk.suppression import SuppressionList

    path = tmp_path / "erase.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    suppression = SuppressionList(engine, keyring)
    from consentry.sdk.consent_state import ConsentEvent

    Ledger(engine, suppression).append(
        ConsentEvent("k", "granted", "email", T, "hubspot", "acme", method="imported"), email="zorro.target@example.com"
    )
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM persons").fetchone()  # holds a snapshot: the log cannot be truncated
    try:
        with pytest.raises(ErasureIncomplete):
            erase(engine, suppression, email="zorro.target@example.com", patience=0.3)
    finally:
        reader.close()
    erase(engine, suppression, email="zorro.target@example.com")  # again, once the reader is gone: complete
    engine.dispose()
    content = b"".join(file.read_bytes() for file in Path(tmp_path).glob("erase.db*"))
    assert b"zorro" not in content
