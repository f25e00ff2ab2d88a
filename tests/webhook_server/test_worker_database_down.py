"""A worker whose database is away backs off and says so once, then once more when it is back.

Before, the sweep logged a traceback at every try and the queue one more for each queued task: 2,309 lines in 20 s."""

import logging
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import OperationalError

from consentry.sdk.store import make_engine
from consentry.webhook_server.outage import Outage
from consentry.webhook_server.worker import Worker
from tests.processes import run_group, stop_group

PEPPER = "worker-down-pepper-0123456789"
SECRETS = ("hunter2-secret", "jane@example.com", "+33612345678")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused() -> OperationalError:
    """An error whose text names what a log must not show."""
    text = f"could not connect: postgresql://consentry:{SECRETS[0]}@db/x while reading {SECRETS[1]} {SECRETS[2]}"
    return OperationalError("SELECT 1", {}, ConnectionRefusedError(text))


def test_the_back_off_doubles_to_its_ceiling_and_each_change_of_state_is_one_line(caplog):
    clock = Clock()
    database = Outage(first=1, longest=30, clock=clock)
    caplog.set_level(logging.INFO, logger="consentry.database")
    assert (database.pause(5), database.holding()) == (5, False)

    pauses = []
    for _ in range(7):
        database.failed(refused())
        pauses.append(database.pause(0.1))
    assert pauses == [1, 2, 4, 8, 16, 30, 30]
    assert database.pause(60) == 60  # never tries more often than the loop would anyway
    assert database.holding()  # a task leaves its work to the sweep until the next try is due
    clock.now += 29.9
    assert database.holding()
    clock.now += 0.1
    assert not database.holding()
    assert database.pause(0.1) == 0.1

    database.answered()
    database.answered()
    assert [record.getMessage() for record in caplog.records] == [
        "database unreachable (builtins.ConnectionRefusedError); trying again with back-off",
        "database reachable again after 30 s",
    ]
    assert not any(secret in caplog.text for secret in SECRETS)

    database.failed(refused())  # a new outage starts from the first pause again
    assert database.pause(0.1) == 1
    assert len(caplog.records) == 3


def test_a_drain_that_cannot_reach_the_database_notes_it_and_leaves_the_jobs_for_later(tmp_path, caplog):
    """The drain fails quietly, and skips while the back-off runs."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'consentry.db'}")  # a directory that is not there
    worker = Worker(
        SimpleNamespace(config={}, services=SimpleNamespace(engine=engine, suppression=None), connectors={})
    )
    clock = Clock()
    worker.database = Outage(clock=clock)
    caplog.set_level(logging.INFO)
    assert worker.propagate_to("hubspot") == 0
    assert worker.database.holding()
    assert worker.propagate_to("hubspot") == 0  # skipped: a later look tries again when the back-off is over
    clock.now += 1
    assert worker.propagate_to("hubspot") == 0
    assert [record.getMessage() for record in caplog.records] == [
        "database unreachable (sqlite3.OperationalError SQLITE_CANTOPEN); trying again with back-off"
    ]
    assert worker.database.pause(0.1) == 2  # the third call tried and failed: the pause doubled
    engine.dispose()


def start_worker(env, log_path) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "consentry.sdk.cli", "worker"],
            env=env,
            cwd=env["CONSENTRY_HOME"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop_group stops it with whatever it started
        )


def worker_env(tmp_path, database_url: str) -> dict[str, str]:
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path), "CONSENTRY_SUPPRESSION_PEPPER": PEPPER}
    env |= {"CONSENTRY_DATABASE_URL": database_url, "CONSENTRY_SWEEP_SECONDS": "0.1"}
    env |= {"CONSENTRY_RECONCILE_SECONDS": "1"}  # a reconciliation task each second hits the database too
    return env


@pytest.mark.slow
def test_a_worker_whose_postgresql_refuses_logs_one_line_not_tracebacks(tmp_path):
    env = worker_env(tmp_path, f"postgresql://consentry:{SECRETS[0]}@127.0.0.1:1/consentry")  # nobody listens
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        time.sleep(4)  # 40 sweeps at 0.1 s, 4 reconciliations
        assert worker.poll() is None
    finally:
        stop_group(worker, timeout=10)
    text = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in text
    assert SECRETS[0] not in text
    assert len(text.splitlines()) == 1, text
    assert "database unreachable (psycopg.OperationalError)" in text


@pytest.mark.slow
def test_a_worker_logs_when_its_database_is_back_and_works_again(tmp_path):
    home = tmp_path / "home"  # the database's directory comes only later, as after a mount or a restore
    env = worker_env(tmp_path, f"sqlite:///{home / 'consentry.db'}")
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        time.sleep(2)
        staging = tmp_path / "staging"  # the database is made apart, then appears whole (a rename)
        staging.mkdir()
        upgrade = run_group(
            [sys.executable, "-m", "consentry.sdk.cli", "db", "upgrade"],
            env=env | {"CONSENTRY_DATABASE_URL": f"sqlite:///{staging / 'consentry.db'}"},
            cwd=tmp_path,
            timeout=60,
        )
        assert upgrade.returncode == 0
        staging.rename(home)
        deadline = time.monotonic() + 20
        while "reconciliation:" not in (tmp_path / "worker.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.poll() is None
    finally:
        stop_group(worker, timeout=10)
    lines = (tmp_path / "worker.log").read_text().splitlines()
    assert "Traceback" not in "\n".join(lines)
    assert "database unreachable (sqlite3.OperationalError SQLITE_CANTOPEN)" in lines[0], lines
    assert "database reachable again after" in lines[1]
    assert lines[2:]
    assert all("reconciliation: 0 people" in line for line in lines[2:]), lines
