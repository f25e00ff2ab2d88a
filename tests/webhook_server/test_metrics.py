"""The propagation figures of `/metrics`, read from the job table at each scrape."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from consentry.sdk.store import persons, propagation_jobs
from consentry.webhook_server import metrics
from consentry.webhook_server.metrics import Metrics

NOW = datetime.now(UTC)


def done_job(key: str, *, latency: float, done_ago: float, source: str = "mailchimp") -> dict:
    done = NOW - timedelta(seconds=done_ago)
    received = done - timedelta(seconds=latency)
    return {
        "event_key": key,
        "person_id": 1,
        "source_system": source,
        "target_system": "hubspot",
        "channel": "email",
        "status": "done",
        "attempts": 1,
        "next_attempt_at": received,
        "received_at": received,
        "updated_at": done,
        "done_at": done,
    }


def quantiles(engine) -> dict[str, float]:
    text = Metrics(engine).render().decode()
    prefix = "consentry_propagation_latency_seconds{quantile="
    return {
        line[len(prefix) + 1 : line.index("}") - 1]: float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def seed(engine, jobs: list[dict]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(persons), [{"id": 1, "email": "x", "created_at": NOW}])
        connection.execute(insert(propagation_jobs), jobs)


def test_latency_leaves_out_the_syncs_own_pushes(engine):
    """The sync records its pushes done at once: counted, they would pull the quantiles towards zero."""
    jobs = [done_job(f"sync-{n}", latency=0.0, done_ago=n, source="sync") for n in range(10)]
    seed(engine, [*jobs, done_job("real", latency=2.5, done_ago=30)])
    assert quantiles(engine) == {"0.5": 2.5, "0.99": 2.5}


def test_latency_is_that_of_the_latest_jobs_done_within_the_hour(engine, monkeypatch):
    monkeypatch.setattr(metrics, "LATENCY_SAMPLE", 3)
    latest = [done_job(f"new-{n}", latency=1.0, done_ago=n) for n in range(3)]
    older = [done_job(f"old-{n}", latency=60.0, done_ago=100 + n) for n in range(5)]
    too_old = [done_job("last-week", latency=900.0, done_ago=7 * 86400)]
    seed(engine, [*older, *latest, *too_old])
    assert quantiles(engine) == {"0.5": 1.0, "0.99": 1.0}
    monkeypatch.setattr(metrics, "LATENCY_SAMPLE", 100)
    assert quantiles(engine) == {"0.5": 60.0, "0.99": 60.0}  # the hour's eight jobs, not last week's


def test_an_operators_counter_directory_starts_empty_and_is_kept(tmp_path):
    """Counts left by an earlier run would be added to this run's; the directory itself is the operator's."""
    given = tmp_path / "counters"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old counts")
    (given / "notes.txt").write_text("not ours")
    assert metrics.shared_counters({metrics.SHARED_DIRECTORY: str(given)}) == ({}, None)
    assert sorted(p.name for p in given.iterdir()) == ["notes.txt"]
    missing = tmp_path / "not-yet" / "there"
    metrics.shared_counters({metrics.SHARED_DIRECTORY: str(missing)})
    assert missing.is_dir()


def test_without_one_the_server_gets_a_fresh_private_directory():
    setting, directory = metrics.shared_counters({})
    try:
        assert setting == {metrics.SHARED_DIRECTORY: str(directory)}
        assert directory.is_dir()
        assert not any(directory.iterdir())
        assert directory.stat().st_mode & 0o077 == 0  # mkdtemp: the owner's only
    finally:
        directory.rmdir()
