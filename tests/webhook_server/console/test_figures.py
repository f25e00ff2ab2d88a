"""The overview's figures for the one person the fixture holds: her verdicts by channel, audience and jurisdiction,
what blocks her SMS, her opt-out on its day and from its system, the dead job in the queue."""

from datetime import UTC, datetime, timedelta

from consentry.webhook_server.console.figures import gather


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
