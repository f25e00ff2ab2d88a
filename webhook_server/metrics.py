"""Prometheus metrics: counters kept by the server, and propagation figures read from the job table."""

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from sdk.store import propagation_jobs, reading


class Metrics:
    def __init__(self, engine):
        self.registry = CollectorRegistry()
        self.received = Counter(
            "consentry_events_received", "Events accepted from webhooks", ["connector"], registry=self.registry
        )
        self.rejected = Counter(
            "consentry_webhooks_rejected", "Webhook requests refused", ["connector", "reason"], registry=self.registry
        )
        self.registry.register(_PropagationCollector(engine))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _PropagationCollector:
    """Job counts by status (the queue depth is pending + failed + running) and recent propagation latency."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        table = propagation_jobs.c
        try:
            with reading(self.engine) as connection:
                counts = dict(connection.execute(select(table.status, func.count()).group_by(table.status)).all())
                since = datetime.now(UTC) - timedelta(hours=1)
                recent = connection.execute(
                    select(table.received_at, table.done_at).where(table.status == "done").where(table.done_at >= since)
                ).all()
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
        latencies = sorted((done - received).total_seconds() for received, done in recent)
        latency = GaugeMetricFamily(
            "consentry_propagation_latency_seconds",
            "Receipt to applied, jobs done in the last hour",
            labels=["quantile"],
        )
        for quantile in (0.5, 0.99):
            value = latencies[min(len(latencies) - 1, int(quantile * len(latencies)))] if latencies else 0.0
            latency.add_metric([str(quantile)], value)
        yield latency


def _database_up(up: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily("consentry_database_up", "Whether the job table could be read", value=int(up))
