"""The overview's figures for the one person the fixture holds: her verdicts by channel, audience and jurisdiction,
what blocks her SMS, her opt-out on its day and from its system, the dead job in the queue; the propagation
latency read as `/metrics` reads it."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from consentry.sdk.store import propagation_jobs
from consentry.webhook_server import metrics
from consentry.webhook_server.console.figures import gather
from consentry.webhook_server.metrics import Metrics


def test_the_overview_counts_one_person_by_channel_audience_and_jurisdiction(console):
    services = console.extensions["consentry"].runtime.services
    at = datetime.now(UTC)
    figures = gather(services.engine, services.ledger, advertiser="acme", at=at, days=7)
    assert figures.people == 1
    assert figures.reach[("sms", "b2c", "FR")] == {"forbidden": 1}
    assert figures.reach[("email", "b2c", "FR")] == {"allowed_with_conditions": 1}
    assert dict(figures.reach_by(0)) == {
        "email": {"allowed_with_conditions": 1},
        "phone_human": {"forbidden": 1},
        "postal": {"allowed_with_conditions": 1},
        "sms": {"forbidden": 1},
    }
    assert figures.blockers[("GDPR_OBJECTION_ABSOLUTE", "sms")] == 1
    assert not any(channel == "email" for _, channel in figures.blockers)
    assert [day for day, _ in figures.opt_outs_by_day] == [(at - timedelta(days=n)).date() for n in range(6, -1, -1)]
    assert dict(figures.opt_outs_by_day)[(at - timedelta(days=1)).date()] == 1
    assert sum(count for _, count in figures.opt_outs_by_day) == 1
    assert figures.opt_outs_by_source == {"alpha": 1}
    assert figures.queue == {"dead": 1}
    assert figures.latencies == []
    assert figures.quantile(0.99) == 0.0


def done_job(key: str, *, latency: float, done_ago: float, action: str = "unsubscribe", source: str = "alpha") -> dict:
    done = datetime.now(UTC) - timedelta(seconds=done_ago)
    received = done - timedelta(seconds=latency)
    return {
        "event_key": key,
        "source_system": source,
        "target_system": "beta",
        "channel": "email",
        "status": "done",
        "attempts": 1,
        "action": action,
        "next_attempt_at": received,
        "received_at": received,
        "updated_at": done,
        "done_at": done,
    }


def published_quantiles(engine) -> dict[str, float]:
    prefix = "consentry_propagation_latency_seconds{quantile="
    return {
        line[len(prefix) + 1 : line.index("}") - 1]: float(line.split()[-1])
        for line in Metrics(engine).render().decode().splitlines()
        if line.startswith(prefix)
    }


def test_the_overviews_latency_is_that_of_metrics_the_hours_latest_opt_outs(console, monkeypatch):
    """Jobs older than the hour, erasures and the sync's pushes are left out, and at most LATENCY_SAMPLE are read:
    the same figure as /metrics, through the same read."""
    services = console.extensions["consentry"].runtime.services
    jobs = [
        *(done_job(f"latest-{n}", latency=1.0, done_ago=10 + n) for n in range(2)),
        *(done_job(f"earlier-{n}", latency=4.0, done_ago=600 + n) for n in range(3)),
        done_job("yesterday", latency=900.0, done_ago=86_400),
        done_job("erased", latency=20 * 86_400.0, done_ago=30, action="erase"),
        done_job("synced", latency=0.0, done_ago=5, source="sync"),
    ]
    with services.engine.begin() as connection:
        connection.execute(insert(propagation_jobs), jobs)
    figures = gather(services.engine, services.ledger, advertiser="acme")
    assert figures.latencies == [1.0, 1.0, 4.0, 4.0, 4.0]
    assert (figures.quantile(0.5), figures.quantile(0.99)) == (4.0, 4.0)
    assert published_quantiles(services.engine) == {"0.5": 4.0, "0.99": 4.0}
    assert figures.queue == {"dead": 1, "done": 8}  # the queue still counts every job

    monkeypatch.setattr(metrics, "LATENCY_SAMPLE", 2)
    figures = gather(services.engine, services.ledger, advertiser="acme")
    assert figures.latencies == [1.0, 1.0]  # the two latest only
    assert published_quantiles(services.engine) == {"0.5": 1.0, "0.99": 1.0}
    assert "last 2 opt-out jobs done in the last hour" in figures.latency_scope
