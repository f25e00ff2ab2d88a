"""Group commit: concurrent deliveries share a transaction, a bad one cannot sink the others, and a batch recorded
together has the same effect as the same deliveries one by one."""

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from consentry.connectors.base import InboundEvent
from consentry.sdk.consent_state import EventKind
from consentry.sdk.store import consent_events, persons, propagation_jobs, suppression_entries
from consentry.sdk.store.engine import make_engine, write_lock
from consentry.webhook_server.inbox import Delivery, commit_group, record

from .test_inbox import _relays, app  # noqa: F401 - fixtures


def opt_out(key: str, email: str, system: str = "alpha", kind=EventKind.WITHDRAWN) -> InboundEvent:
    return InboundEvent(
        event_key=key,
        kind=kind,
        channel="email",
        occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
        system=system,
        email=email,
    )


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_concurrent_deliveries_share_commits_and_each_is_answered_after_its_commit(app):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    engine = runtime.services.engine
    commits = []
    event.listen(engine, "commit", lambda connection: commits.append(1))
    group = commit_group(runtime)
    release = threading.Event()
    original = group._record

    def slow_first_group(deliveries):
        release.wait(5)  # hold the writer so that the other deliveries queue up behind the first
        original(deliveries)

    group._record = slow_first_group
    deliveries = [Delivery([opt_out(f"k{n}", f"p{n}@example.com")], ["beta"]) for n in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = [pool.submit(group.submit, delivery) for delivery in deliveries]
        time.sleep(0.3)
        assert count(engine, consent_events) == 0  # nothing answered, nothing committed yet
        assert not any(future.done() for future in futures)
        release.set()
        for future in futures:
            future.result(timeout=10)
    assert count(engine, consent_events) == 40
    assert count(engine, propagation_jobs) == 40
    assert all(delivery.result.new_events == 1 for delivery in deliveries)
    assert len(commits) < 40 / 2  # most deliveries shared a commit


class ExplodingTargets(list):
    """Iterated only once the delivery's events are written: the rollback must undo them."""

    def __iter__(self):
        raise RuntimeError("the database refused this delivery")


def test_a_failing_delivery_fails_alone_and_the_others_land(app):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    engine = runtime.services.engine
    group = commit_group(runtime)
    gate, original = threading.Event(), group._record
    group._record = lambda deliveries: (gate.wait(5), original(deliveries))
    good = [Delivery([opt_out(f"g{n}", f"good{n}@example.com")], ["beta"]) for n in range(5)]
    poisoned = Delivery([opt_out("bad", "bad@example.com")], ExplodingTargets(["beta"]))
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(group.submit, delivery) for delivery in [*good, poisoned]]
        time.sleep(0.2)
        gate.set()
        outcomes = [future.exception(timeout=10) for future in futures]
    assert outcomes[:5] == [None] * 5
    assert isinstance(outcomes[5], RuntimeError)
    with engine.connect() as connection:
        keys = set(connection.execute(select(consent_events.c.event_key)).scalars())
    assert keys == {f"g{n}" for n in range(5)}
    assert count(engine, propagation_jobs) == 5
    assert runtime.services.suppression.check("email", "bad@example.com") is None


def test_a_batch_counts_duplicates_within_it_and_records_one_event(app):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    engine = runtime.services.engine
    first = Delivery([opt_out("same", "jane@example.com")], ["beta"])
    again = Delivery([opt_out("same", "jane@example.com")], ["beta"])
    other = Delivery([opt_out("other", "JANE@example.com ", kind=EventKind.OBJECTED)], ["beta"])
    with engine.begin() as connection:
        record(connection, runtime.services, [first, again, other], advertiser="default")
    assert (first.result.new_events, again.result.duplicates, other.result.new_events) == (1, 1, 1)
    assert count(engine, consent_events) == 2
    assert count(engine, persons) == 1  # the same person, however the address was written
    assert count(engine, suppression_entries) == 1
    assert count(engine, propagation_jobs) == 2


def test_a_batch_has_the_effect_of_its_deliveries_one_by_one(app, tmp_path):  # noqa: F811
    """The suppression list after a mixed batch (opt-outs, a newer provable consent, a stale grant) is the one the
    same deliveries give when recorded one at a time."""
    runtime = app.extensions["consentry"].runtime
    granted = EventKind.GRANTED
    events = [
        opt_out("1", "ann@example.com"),
        opt_out("2", "bob@example.com", kind=EventKind.OBJECTED),
        InboundEvent("3", granted, "email", datetime(2026, 6, 1, tzinfo=UTC), "alpha", email="ann@example.com"),
        InboundEvent("4", granted, "email", datetime(2026, 1, 1, tzinfo=UTC), "alpha", email="bob@example.com"),
        opt_out("5", "cat@example.com"),
    ]

    def suppressed_after(batches) -> dict:
        with runtime.services.engine.begin() as connection:
            connection.execute(suppression_entries.delete())
            connection.execute(propagation_jobs.delete())
            connection.execute(consent_events.delete())
        for batch in batches:
            with runtime.services.engine.begin() as connection:
                record(connection, runtime.services, [Delivery(batch, ["beta"])], advertiser="default")
        check = runtime.services.suppression.check
        return {
            email: check("email", email) is not None
            for email in ("ann@example.com", "bob@example.com", "cat@example.com")
        }

    together = suppressed_after([events])
    one_by_one = suppressed_after([[e] for e in events])
    assert together == one_by_one
    assert together["bob@example.com"]
    assert together["cat@example.com"]


def test_the_write_lock_queues_writers_of_one_file_across_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    engine = make_engine(url)
    holder = (
        "import sys, time\n"
        "from consentry.sdk.store.engine import make_engine, write_lock\n"
        f"with write_lock(make_engine({url!r})):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(1.0)\n"
    )
    with subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout.readline().strip() == "held"
        started = time.monotonic()
        with write_lock(engine):
            waited = time.monotonic() - started
    assert waited > 0.5  # it waited for the other process to release the lock


def test_the_write_lock_does_nothing_on_an_in_memory_database():
    engine = make_engine("sqlite://")
    with write_lock(engine), write_lock(engine):  # no file, no lock, no deadlock
        pass


@pytest.mark.parametrize("size", [1, 250])
def test_record_handles_empty_and_large_batches_without_identifiers(app, size):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    anonymous = Delivery(
        [InboundEvent(f"x{n}", EventKind.WITHDRAWN, "email", datetime.now(UTC), "alpha") for n in range(size)], ["beta"]
    )
    with runtime.services.engine.begin() as connection:
        record(connection, runtime.services, [anonymous], advertiser="default")
    assert anonymous.result.skipped == size
    assert count(runtime.services.engine, consent_events) == 0


def test_a_commit_that_does_not_come_in_time_is_a_503_not_a_500(monkeypatch):
    """Before, the wait ended in a TimeoutError, which the webhook answered with a 500."""
    from consentry.webhook_server import commit_group as module
    from consentry.webhook_server.inbox_writer import InboxUnavailable

    monkeypatch.setattr(module, "WAIT_SECONDS", 0.2)
    release = threading.Event()
    group = module.CommitGroup(lambda deliveries: release.wait(5))
    try:
        with pytest.raises(InboxUnavailable):
            group.submit(object())
    finally:
        release.set()
