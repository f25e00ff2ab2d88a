"""The SQLite files hold addresses and numbers in clear: owner-only (0600) whatever the umask, with their WAL.

Before, a fresh database, its -wal and -shm were created 0644, readable by every user of the machine."""

import os
import sqlite3
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text

from consentry.sdk.cli import main
from consentry.sdk.store import make_engine, persons, reading
from consentry.sdk.store.engine import held_alone

PEPPER = "file-modes-pepper-0123456789"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def permissive_umask():
    previous = os.umask(0o022)  # the common default, under which a plain create gives 0644
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def modes(database) -> dict[str, int]:
    return {suffix: mode(f"{database}{suffix}") for suffix in ("", "-wal", "-shm")}


def test_db_upgrade_then_the_engine_keep_the_database_and_its_wal_private(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    monkeypatch.setenv("CONSENTRY_SUPPRESSION_PEPPER", PEPPER)
    monkeypatch.delenv("CONSENTRY_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    database = tmp_path / "consentry.db"
    assert mode(database) == 0o600

    engine = make_engine(f"sqlite:///{database}")
    try:
        with reading(engine) as connection:  # held open: SQLite removes the -wal and -shm with its last connection
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            with engine.begin() as writer:
                writer.execute(insert(persons), [{"id": 1, "email": "jane@example.com", "created_at": NOW}])
            assert connection.execute(text("SELECT count(*) FROM persons")).scalar() == 1
            assert modes(database) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    finally:
        engine.dispose()


def test_a_database_others_could_read_is_made_private_when_opened(tmp_path):
    database = tmp_path / "old.db"
    before = sqlite3.connect(database)  # as the code before made it: 0644, and its WAL too
    try:
        before.execute("PRAGMA journal_mode=WAL")
        before.execute("CREATE TABLE t (x)")
        before.execute("INSERT INTO t VALUES (1)")
        before.commit()
        assert modes(database) == {"": 0o644, "-wal": 0o644, "-shm": 0o644}
        engine = make_engine(f"sqlite:///{database}")
        try:
            with reading(engine) as connection:
                assert connection.execute(text("SELECT x FROM t")).scalar() == 1
            assert modes(database) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
        finally:
            engine.dispose()
    finally:
        before.close()


def test_a_lock_file_beside_the_database_is_private(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'consentry.db'}")
    try:
        with held_alone(engine, "reconcile") as mine:
            assert mine
        assert (tmp_path / "consentry.db.reconcile.lock").stat().st_mode & 0o777 == 0o600
    finally:
        engine.dispose()
