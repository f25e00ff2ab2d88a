"""`DriverSql`: plain SQL on the driver's connection reads and binds values exactly as SQLAlchemy Core does."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import exc, insert, select

from consentry.sdk.store import call_log, persons, reading
from consentry.sdk.store.driver_sql import DriverSql

PARIS_WINTER = timezone(timedelta(hours=1))


@pytest.fixture
def person(engine):
    with engine.begin() as connection:
        created = datetime(2026, 1, 5, 9, 30, tzinfo=PARIS_WINTER)
        return connection.execute(
            insert(persons).values(email="a@example.com", phone="+33612345678", created_at=created)
        ).inserted_primary_key[0]


def _called(engine, person, *moments):
    with engine.begin() as connection:
        for number, moment in enumerate(moments):
            connection.execute(
                insert(call_log).values(
                    person_id=person,
                    advertiser="acme",
                    event_key=f"call-{number}",
                    outcome="refused",
                    called_at=moment,
                    recorded_at=moment,
                )
            )


def test_a_time_reads_back_aware_and_equal_to_what_core_reads(engine, person):
    with reading(engine) as connection:
        sql = DriverSql(connection)
        wanted, values = sql.one_of(persons.c.id, [person])
        (driver_row,) = sql.rows(
            f"SELECT id, created_at FROM persons WHERE {wanted}", values, persons.c["id", "created_at"]
        )
        core_row = connection.execute(select(persons.c.id, persons.c.created_at)).one()
    assert driver_row == tuple(core_row)
    assert driver_row[1] == datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    assert driver_row[1].tzinfo is not None


def test_a_bound_time_compares_as_the_stored_instant_whatever_its_offset(engine, person):
    stored = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    _called(engine, person, stored)
    with reading(engine) as connection:
        sql = DriverSql(connection)
        counts = []
        for bound in (stored.astimezone(PARIS_WINTER), stored - timedelta(microseconds=1)):
            up_to, values = sql.value(call_log.c.called_at, bound)
            counts.append(sql.rows(f"SELECT COUNT(*) FROM call_log WHERE called_at <= {up_to}", values, [None])[0][0])
    assert counts == [1, 0]


def test_one_of_nothing_matches_no_row(engine, person):
    with reading(engine) as connection:
        sql = DriverSql(connection)
        nothing, values = sql.one_of(persons.c.email, [])
        some, more = sql.one_of(persons.c.email, ["a@example.com", "b@example.com"])
        assert sql.rows(f"SELECT id FROM persons WHERE {nothing}", values, [persons.c.id]) == []
        assert sql.rows(f"SELECT id FROM persons WHERE {some}", more, [persons.c.id]) == [(person,)]


def test_the_reads_share_the_connections_transaction(engine):
    with reading(engine) as connection:
        assert not connection.in_transaction()
        DriverSql(connection)
        assert connection.in_transaction()


def test_a_locked_sqlite_database_fails_as_sqlalchemy_reports_it(tmp_path):
    from consentry.sdk.store import make_engine, metadata

    engine = make_engine(f"sqlite:///{tmp_path / 'locked.db'}")
    metadata.create_all(engine)
    try:
        with engine.connect() as holder, engine.connect() as other:
            holder.begin()  # BEGIN IMMEDIATE: the write lock
            other.connection.driver_connection.execute("PRAGMA busy_timeout=10")
            with pytest.raises(exc.OperationalError, match="locked"):
                other.begin()
            assert not other.in_transaction()
    finally:
        engine.dispose()
