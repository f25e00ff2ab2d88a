"""Store benchmarks: ledger append rate, batch suppression check (1M against 1M), retention plan (1M contacts).

    python benchmarks/bench_store.py [--size 1000000] [--postgres URL]

SQLite runs on a temporary file; PostgreSQL runs when a URL is given (its tables are dropped and recreated).
Peak memory is this process's maximum resident set size after each step.
"""

import argparse
import platform
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from consentry.sdk import retention
from consentry.sdk.consent_state import ConsentEvent
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.ledger import Ledger
from consentry.sdk.store import contacts, make_engine, metadata, persons, suppression_entries, upgrade
from consentry.sdk.suppression import Keyring, SuppressionList

KEYRING = Keyring({"p1": b"benchmark-pepper-0123456789"}, "p1")
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(step: str, seconds: float, count: int, unit: str) -> None:
    print(f"{step:<44}{count:>10} {unit:<12}{seconds:>8.2f} s {count / seconds:>12,.0f}/s  peak {peak_mb():7.1f} MB")


def fresh(url: str):
    engine = make_engine(url)
    if not url.startswith("sqlite"):
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(url)
    return engine


def bench_ledger(url: str, label: str, events: int) -> None:
    engine = fresh(url)
    ledger = Ledger(engine, SuppressionList(engine, KEYRING))

    def event(number: int) -> ConsentEvent:
        kind = "withdrawn" if number % 5 == 0 else "granted"
        return ConsentEvent(
            f"e{number}",
            kind,
            "email",
            NOW - timedelta(minutes=number),
            "bench",
            "acme",
            method=None if kind == "withdrawn" else "imported",
        )

    started = time.perf_counter()
    for number in range(events):
        ledger.append(event(number), email=f"p{number}@example.com")
    report(f"{label}: ledger append, one per transaction", time.perf_counter() - started, events, "events")
    started = time.perf_counter()
    batch = [(event(number), f"q{number}@example.com", None) for number in range(events, events * 3)]
    for offset in range(0, len(batch), 500):
        ledger.append_many(batch[offset : offset + 500])
    report(f"{label}: ledger append, 500 per transaction", time.perf_counter() - started, len(batch), "events")
    engine.dispose()


def bench_suppression(url: str, label: str, size: int) -> None:
    engine = fresh(url)
    suppression = SuppressionList(engine, KEYRING)
    started = time.perf_counter()
    with engine.begin() as connection:
        rows = []
        for number in range(size):
            digest = KEYRING.digest(f"listed{number}@example.com")
            rows.append(
                {
                    "identifier_hash": digest,
                    "pepper_id": "p1",
                    "identifier_kind": "email",
                    "channels": "all",
                    "reason_code": "X",
                    "added_on": date(2026, 1, 1),
                }
            )
            if len(rows) == 10_000:
                connection.execute(suppression_entries.insert(), rows)
                rows = []
        if rows:
            connection.execute(suppression_entries.insert(), rows)
    report(f"{label}: load suppression list (setup)", time.perf_counter() - started, size, "entries")
    candidates = (f"{'listed' if n % 2 else 'other'}{n}@example.com" for n in range(size))
    started = time.perf_counter()
    hits = sum(1 for found in suppression.check_many(IdentifierKind.EMAIL, candidates) if found is not None)
    report(f"{label}: batch check against the list", time.perf_counter() - started, size, "identifiers")
    assert hits == size // 2, hits
    engine.dispose()


def bench_retention(url: str, label: str, size: int) -> None:
    engine = fresh(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(persons.insert(), [{"email": f"r{n}@example.com", "created_at": NOW} for n in range(size)])
        ids = connection.execute(text("SELECT id FROM persons ORDER BY id")).scalars().all()
        rows = []
        for number, person_id in enumerate(ids):
            rows.append(
                {
                    "person_id": person_id,
                    "source_system": "bench",
                    "source_record_id": str(number),
                    "jurisdiction": "FR",
                    "audience": "b2c",
                    "is_customer": number % 3 == 0,
                    "last_inbound_contact": date(2022, 1, 1) + timedelta(days=number % 1500),
                    "relationship_end": date(2021, 1, 1) + timedelta(days=number % 2000),
                    "updated_at": NOW,
                }
            )
            if len(rows) == 10_000:
                connection.execute(contacts.insert(), rows)
                rows = []
        if rows:
            connection.execute(contacts.insert(), rows)
    report(f"{label}: load contacts (setup)", time.perf_counter() - started, size, "contacts")
    started = time.perf_counter()
    due = sum(1 for _ in retention.plan(engine, at=NOW))
    report(f"{label}: retention plan ({due} due)", time.perf_counter() - started, size, "contacts")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to run the same steps on")
    arguments = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as directory:
        targets = [("sqlite", f"sqlite:///{Path(directory) / 'bench.db'}")]
        if arguments.postgres:
            targets.append(("postgresql", arguments.postgres))
        for label, url in targets:
            bench_ledger(url, label, arguments.events)
            bench_suppression(url, label, arguments.size)
            bench_retention(url, label, arguments.size)


if __name__ == "__main__":
    main()
