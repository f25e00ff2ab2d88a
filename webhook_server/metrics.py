"""Prometheus metrics: counters kept by the server, and propagation figures read from the job table."""

import collections
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from consentry.sdk.store import propagation_jobs, reading

# prometheus_client's own setting: when set before it is imported, every process counts into files there.
SHARED_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def shared_counters(environ) -> tuple[dict[str, str], Path | None]:
    """The setting that makes the gunicorn processes count into one directory, so that `/metrics` shows the
    server's totals whichever process answers the scrape, and the directory to remove at exit (None when the
    operator chose it). The directory must start empty: counts of an earlier run would be added again."""
    given = environ.get(SHARED_DIRECTORY)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for leftover in Path(given).glob("*.db"):
            leftover.unlink()
        return {}, None
    directory = Path(tempfile.mkdtemp(prefix="consentry-metrics-"))
    return {SHARED_DIRECTORY: str(directory)}, directory


class Metrics:
    def __init__(self, engine):
        self.registry = CollectorRegistry()
        self.received = Counter(
            "consentry_events_received", "Events accepted from webhooks", ["connector"], registry=self.registry
        )
        self.rejected = Counter(
            "consentry_webhooks_rejected", "Webhook requests refused", ["connector", "reason"], registry=self.registry
        )
        self.deferred = Counter(  # alert on these: the vendor retries a while, then gives up
            "consentry_webhooks_deferred",
            "Webhook requests answered 503 (nothing stored), for the vendor to deliver again",
            ["connector", "reason"],
            registry=self.registry,
        )
        self.propagation = _PropagationCollector(engine)
        self.registry.register(self.propagation)

    def render(self) -> bytes:
        if not os.environ.get(SHARED_DIRECTORY):
            return generate_latest(self.registry)
        registry = CollectorRegistry()  # the counts of every process of the server, summed
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.propagation)
        return generate_latest(registry)


# A scrape reads at most this many jobs: quantiles of the latest ones, at a cost that does not grow with the load.
LATENCY_SAMPLE = 10_000
LATENCY_WINDOW = timedelta(hours=1)


def latency_scope(window: timedelta = LATENCY_WINDOW) -> str:
    """What the latency figure covers, in words, for `/metrics`'s help text, the console's overview and the report."""
    period = "hour" if window == timedelta(hours=1) else f"{window.days} days"
    return (
        f"over the last {LATENCY_SAMPLE} opt-out jobs done in the last {period} (erasures and the sync's pushes aside)"
    )


def recent_latencies(connection: Connection, *, now: datetime, window: timedelta = LATENCY_WINDOW) -> list[float]:
    """Receipt-to-applied seconds, in ascending order, of the latest `LATENCY_SAMPLE` jobs done within `window`
    before `now` that pushed an opt-out: the one latency read of `/metrics`, the console and the report."""
    table = propagation_jobs.c
    recent = connection.execute(
        select(table.received_at, table.done_at)
        .where(table.done_at >= now - window)  # set once a job is done, and only then
        .where(table.source_system != "sync")  # the sync's own pushes, recorded done at once
        .where(table.action == "unsubscribe")  # an erasure's jobs run on the legal clock, not seconds
        .order_by(table.done_at.desc())
        .limit(LATENCY_SAMPLE)
    )
    return sorted((done - received).total_seconds() for received, done in recent)


def jobs_by_status(connection: Connection) -> collections.Counter[str]:
    """Propagation jobs per status, counted by the database: the table keeps every job ever made."""
    table = propagation_jobs.c
    counted = connection.execute(select(table.status, func.count()).group_by(table.status))
    return collections.Counter({status: count for status, count in counted})


def quantile(values: list[float], q: float) -> float:
    """The `q` quantile of values in ascending order (the nearest rank at or above it); 0.0 for none."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


class _PropagationCollector:
    """Job counts by status (the queue depth is pending + failed + running) and recent propagation latency."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        try:
            with reading(self.engine) as connection:
                counts = jobs_by_status(connection)
                latencies = recent_latencies(connection, now=datetime.now(UTC))
        except SQLAlchemyError:  # the server's own counters still render; alert on this gauge
            yield _database_up(False)
            return
        yield _database_up(True)
        jobs = GaugeMetricFamily("consentry_propagation_jobs", "Propagation jobs by status", labels=["status"])
        for status in ("pending", "running", "failed", "done", "dead"):
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        depth = sum(counts.get(status, 0) for status in ("pending", "running", "failed"))
        yield GaugeMetricFamily("consentry_queue_depth", "Propagation jobs not finished yet", value=depth)
        latency = GaugeMetricFamily(
            "consentry_propagation_latency_seconds", f"Receipt to applied, {latency_scope()}", labels=["quantile"]
        )
        for q in (0.5, 0.99):
            latency.add_metric([str(q)], quantile(latencies, q))
        yield latency
        yield from _rights(self.engine)


def _rights(engine):
    from .rights import counts  # the requests not closed yet, counted at each scrape

    try:
        found = counts(engine)
    except SQLAlchemyError:
        return
    gauge = GaugeMetricFamily(
        "consentry_rights_requests",
        "Rights requests not done yet, and those of them past their due date",
        labels=["state"],
    )
    for state in ("open", "overdue"):
        gauge.add_metric([state], found[state])
    yield gauge


def _database_up(up: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily("consentry_database_up", "Whether the job table could be read", value=int(up))
