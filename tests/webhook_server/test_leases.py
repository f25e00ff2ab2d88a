"""Leases: short, renewed by a heartbeat while a push runs, and fenced, so that a dead worker's jobs are due again
within seconds while a live worker's job is never taken from under it nor recorded twice."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from consentry.sdk.store import propagation_jobs
from consentry.webhook_server.propagation import LEASE, due_targets, run_target

from .relay_connector import DURING_PUSH
from .test_inbox import deliver, optout


@pytest.fixture
def app(relay_app):
    return relay_app


def test_a_job_whose_worker_died_is_due_again_within_seconds(app):
    """Before, the lease was 30 s: a killed worker's opt-out waited that long (a p99 of 32 s end to end)."""
    engine = app.extensions["consentry"].runtime.services.engine
    deliver(app.test_client(), "alpha", [optout("a-1")])
    with engine.begin() as connection:  # claimed by a worker that is then killed: nothing renews its lease
        connection.execute(
            update(propagation_jobs).values(status="running", lease_until=datetime.now(UTC) + LEASE, attempts=1)
        )
    assert due_targets(engine) == []
    assert due_targets(engine, now=datetime.now(UTC) + timedelta(seconds=6)) == ["beta"]


def test_a_push_longer_than_the_lease_keeps_its_job(app):
    """The heartbeat renews the lease while the push runs, so no other worker takes the job meanwhile."""
    runtime = app.extensions["consentry"].runtime
    engine, connectors = runtime.services.engine, runtime.connectors
    deliver(app.test_client(), "alpha", [optout("a-1")])
    lease = timedelta(seconds=0.6)
    pushing, release = threading.Event(), threading.Event()

    def slow_vendor() -> None:
        pushing.set()
        release.wait(10)

    DURING_PUSH["beta"] = slow_vendor
    outcomes = []
    first = threading.Thread(target=lambda: outcomes.extend(run_target(engine, connectors, "beta", lease=lease)))
    first.start()
    try:
        assert pushing.wait(10)
        time.sleep(3 * lease.total_seconds())  # three leases later, the job is still held
        assert run_target(engine, connectors, "beta", lease=lease) == []
    finally:
        release.set()
        first.join()
    assert [outcome.status for outcome in outcomes] == ["done"]


def test_a_worker_that_lost_its_job_does_not_record_an_outcome_over_the_new_holders(app):
    """Fencing: another worker claimed the job after this one's lease ran out (a frozen process); the late
    outcome is not recorded, so the job's history is the new holder's."""
    runtime = app.extensions["consentry"].runtime
    engine, connectors = runtime.services.engine, runtime.connectors
    deliver(app.test_client(), "alpha", [optout("a-1")])

    def taken_over() -> None:
        with engine.begin() as connection:
            connection.execute(
                update(propagation_jobs).values(attempts=propagation_jobs.c.attempts + 1, last_error="NEW_HOLDER")
            )

    DURING_PUSH["beta"] = taken_over
    [outcome] = run_target(engine, connectors, "beta")
    assert outcome.status == "skipped"
    with engine.connect() as connection:
        row = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
    assert tuple(row) == ("running", "NEW_HOLDER")
