"""Reads never queue behind a writer on SQLite: `reading` opens a deferred transaction (WAL readers need no lock)."""

import contextlib
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError

from consentry.sdk.store import make_engine, persons, reading, upgrade


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@contextlib.contextmanager
def another_writer_in_flight(engine):
    """Another thread inserts b@example.com and holds its transaction (BEGIN IMMEDIATE: the write lock) open."""
    holding, release = threading.Event(), threading.Event()

    def writer():
        with engine.begin() as connection:
            connection.execute(insert(persons).values(email="b@example.com", created_at=datetime.now(UTC)))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(5)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def test_a_reader_sees_the_last_commit_while_a_writer_holds_the_lock(engine):
    with engine.begin() as connection:
        connection.execute(insert(persons).values(email="a@example.com", created_at=datetime.now(UTC)))
    with another_writer_in_flight(engine), reading(engine) as connection:
        # with BEGIN IMMEDIATE this would wait for the writer (30 s busy timeout), then fail
        counted = connection.execute(select(func.count()).select_from(persons)).scalar_one()
    assert counted == 1  # the committed row, not the one in flight
    with reading(engine) as connection:
        assert connection.execute(select(func.count()).select_from(persons)).scalar_one() == 2


def test_a_reading_connection_that_tries_to_write_behind_a_writer_fails_instead_of_writing(engine):
    with another_writer_in_flight(engine), reading(engine) as connection:
        connection.exec_driver_sql("PRAGMA busy_timeout=100")  # fail fast rather than wait 30 s
        write = insert(persons).values(email="c@example.com", created_at=datetime.now(UTC))
        with pytest.raises(OperationalError):
            connection.execute(write)
    with reading(engine) as connection:
        emails = set(connection.execute(select(persons.c.email)).scalars())
    assert emails == {"b@example.com"}
