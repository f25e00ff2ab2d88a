"""Stored moments come back aware and in UTC on both databases, whatever zone they were written in."""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from consentry.sdk.store import persons, reading

PARIS_WINTER = timezone(timedelta(hours=1))


def test_an_aware_time_in_another_zone_is_stored_as_its_instant(engine):
    written = datetime(2026, 12, 3, 10, 30, tzinfo=PARIS_WINTER)
    with engine.begin() as connection:
        connection.execute(insert(persons).values(email="a@example.com", created_at=written))
    with reading(engine) as connection:
        stored = connection.execute(select(persons.c.created_at)).scalar_one()
    assert stored == written
    assert stored.utcoffset() == timedelta(0)
    assert stored.hour == 9  # the UTC reading, not Paris's wall clock


def test_comparisons_and_aggregates_read_instants_too(engine):
    with engine.begin() as connection:
        connection.execute(
            insert(persons),
            [
                {"email": "early@example.com", "created_at": datetime(2026, 12, 3, 9, 0, tzinfo=UTC)},
                {"email": "late@example.com", "created_at": datetime(2026, 12, 3, 11, 0, tzinfo=UTC)},
            ],
        )
    # 11:30 in Paris is 10:30 UTC: the 11:00 UTC row is later (as a wall-clock string it would not be)
    boundary = datetime(2026, 12, 3, 11, 30, tzinfo=PARIS_WINTER)
    with reading(engine) as connection:
        later = connection.execute(select(persons.c.email).where(persons.c.created_at > boundary)).scalars().all()
        latest = connection.execute(select(func.max(persons.c.created_at))).scalar_one()
    assert later == ["late@example.com"]
    assert latest == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert latest.tzinfo is not None
