"""`brief_reads`: on SQLite one thread of the process reads at a time (no interpreter-lock hand-over per call); on
PostgreSQL threads read side by side."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from consentry.sdk.store import persons
from consentry.sdk.store.engine import brief_reads


def _second_reader_entered_while_the_first_held(engine, patience: float) -> bool:
    first_inside, release, second_inside = threading.Event(), threading.Event(), threading.Event()

    def first():
        with brief_reads(engine) as connection:
            connection.execute(select(func.count()).select_from(persons)).scalar_one()
            first_inside.set()
            release.wait(timeout=10)

    def second():
        first_inside.wait(timeout=10)
        with brief_reads(engine) as connection:
            connection.execute(select(func.count()).select_from(persons)).scalar_one()
            second_inside.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    overlapped = second_inside.wait(timeout=patience)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert second_inside.is_set()  # it read in the end, either way
    return overlapped


def test_on_sqlite_a_second_reader_waits_for_the_first(engine, database_url):
    if database_url.startswith("sqlite"):
        assert not _second_reader_entered_while_the_first_held(engine, patience=0.5)
    else:  # time enough for a new PostgreSQL connection on a busy machine
        assert _second_reader_entered_while_the_first_held(engine, patience=10)


def test_a_failed_read_frees_the_lock(engine):
    with pytest.raises(DBAPIError), brief_reads(engine) as connection:
        connection.exec_driver_sql("SELECT no_such_column FROM persons")
    with brief_reads(engine) as connection:
        assert connection.execute(select(func.count()).select_from(persons)).scalar_one() == 0
