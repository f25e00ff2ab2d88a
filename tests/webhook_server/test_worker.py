"""`consentry worker` without a separate queue: the job table is the queue, PostgreSQL's NOTIFY (or SQLite's poll)
wakes the workers, and two workers sharing a database apply each opt-out once."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select, text

from consentry.sdk.store import make_engine, propagation_jobs, upgrade
from consentry.webhook_server.runtime import build_runtime
from consentry.webhook_server.wakeups import Listener, announce
from consentry.webhook_server.worker import Worker
from tests.processes import stop_group
from tests.waiting import wait_for

from .conftest import relay_config
from .relay_connector import PUSHED, UNSUBSCRIBED
from .test_inbox import deliver, optout


class Running:
    """A Worker in a thread of this process, stopped (and its thread joined) on leaving."""

    def __init__(self, database_url: str, **settings):
        self.runtime = build_runtime(relay_config(database_url, RECONCILE_SECONDS=0, **settings))
        self.worker = Worker(self.runtime, threads=2)
        self.thread = threading.Thread(target=self.worker.run, name="test-worker")

    def __enter__(self) -> Worker:
        self.thread.start()
        return self.worker

    def __exit__(self, *_exc) -> None:
        self.worker.stop.set()
        self.thread.join(timeout=10)
        self.runtime.close()
        assert not self.thread.is_alive(), "the worker did not stop when told"


def statuses(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(propagation_jobs.c.status)).scalars())


def test_a_running_worker_applies_what_a_webhook_stored(relay_app, database_url):
    """On PostgreSQL the sweep is an hour away: only the transaction's NOTIFY can wake the worker in time. On SQLite
    the worker's poll finds the job."""
    with Running(database_url, SWEEP_SECONDS=3600):
        time.sleep(0.3)  # the worker has made its first look, found nothing, and waits
        assert deliver(relay_app.test_client(), "alpha", [optout("a-1")]).status_code == 200
        assert wait_for(lambda: UNSUBSCRIBED.get("beta") == {"jane@example.com"})
    assert statuses(relay_app.extensions["consentry"].runtime.services.engine) == ["done"]


@pytest.mark.postgres
def test_two_workers_apply_each_opt_out_once(relay_app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers share a PostgreSQL database")
    client = relay_app.test_client()
    emails = [f"person{number}@example.com" for number in range(60)]
    with Running(database_url, SWEEP_SECONDS=3600), Running(database_url, SWEEP_SECONDS=3600):
        for number, email in enumerate(emails):
            assert deliver(client, "alpha", [optout(f"a-{number}", email=email)]).status_code == 200
        assert wait_for(lambda: UNSUBSCRIBED.get("beta") == set(emails), timeout=30)
    assert sorted(PUSHED["beta"]) == sorted(emails)  # not one pushed twice
    assert set(statuses(relay_app.extensions["consentry"].runtime.services.engine)) == {"done"}


@pytest.mark.postgres
def test_an_announcement_reaches_a_listener_at_commit_and_never_from_a_rollback(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite announces nothing: its workers poll")
    listener, stop = Listener(engine), threading.Event()
    try:
        assert listener.wait(0.2, stop) is False  # starts listening; nothing announced yet
        with engine.connect() as connection:
            announce(connection, ["beta"])
            connection.rollback()
        assert listener.wait(0.5, stop) is False
        with engine.begin() as connection:
            announce(connection, ["beta", "alpha", "beta"])
            assert listener.wait(0.3, stop) is False  # not before the commit
        assert listener.wait(5, stop) is True
        assert listener.wait(0.3, stop) is False  # the two announcements were taken by the one wake-up
    finally:
        listener.close()


def test_on_sqlite_announcing_is_nothing_and_waiting_is_a_short_poll(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'consentry.db'}")
    listener, stop = Listener(engine), threading.Event()
    try:
        with engine.begin() as connection:
            announce(connection, ["beta"])
            assert connection.execute(text("SELECT 1")).scalar() == 1  # the transaction is untouched
        started = time.monotonic()
        assert listener.wait(3600, stop) is False
        assert time.monotonic() - started < 5  # the poll interval, not the hour asked for
    finally:
        listener.close()
        engine.dispose()


def test_a_stopped_listener_returns_at_once(engine):
    listener, stop = Listener(engine), threading.Event()
    stop.set()
    try:
        started = time.monotonic()
        assert listener.wait(3600, stop) is False
        assert time.monotonic() - started < 5
    finally:
        listener.close()


def test_consentry_worker_stops_cleanly_on_sigterm(tmp_path):
    """huey's consumer did this; the worker now handles SIGTERM itself: it finishes its batches and exits 0."""
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(database_url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENTRY_")}
    env |= {"CONSENTRY_HOME": str(tmp_path), "CONSENTRY_DATABASE_URL": database_url}
    env |= {"CONSENTRY_SUPPRESSION_PEPPER": "worker-stop-pepper-0123456789"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "consentry.sdk.cli", "worker"], env=env, cwd=tmp_path, start_new_session=True
    )
    try:
        time.sleep(1.5)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        stop_group(worker, timeout=5)
