"""The overview's figures: who may be contacted (by channel, audience and jurisdiction), what blocks the others
(by reason and channel), opt-outs per day and where they came from, the propagation queue and its latency, and
what retention makes due.

`report.gather` keys reachability by channel and audience only and counts blocking reasons across channels; the
console needs both by jurisdiction and channel, so it makes its own one pass over the people with the same
standing verdict (`sdk.standing`), rather than evaluating everyone twice.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select

from consentry.sdk import retention
from consentry.sdk.consent_state import EventKind
from consentry.sdk.ledger import Ledger
from consentry.sdk.store import consent_events, propagation_jobs, reading

from ..report import standings

OPT_OUT_KINDS = tuple(kind.value for kind in EventKind if kind.opts_out)


@dataclass
class Overview:
    at: datetime
    people: int = 0
    reach: dict[tuple[str, str, str], Counter] = field(default_factory=dict)  # (channel, audience, jurisdiction)
    blockers: Counter = field(default_factory=Counter)  # (reason code, channel)
    opt_outs_by_day: list[tuple[date, int]] = field(default_factory=list)
    opt_outs_by_source: Counter = field(default_factory=Counter)
    queue: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    retention: Counter = field(default_factory=Counter)

    def reach_by(self, *keys: int) -> list[tuple[str, Counter]]:
        """Verdict counts grouped by some of (channel 0, audience 1, jurisdiction 2), labelled `a · b`."""
        grouped: dict[str, Counter] = {}
        for key, counts in self.reach.items():
            grouped.setdefault(" · ".join(key[k] for k in keys), Counter()).update(counts)
        return sorted(grouped.items())

    def quantile(self, q: float) -> float:
        values = self.latencies
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def gather(engine: Engine, ledger: Ledger, *, advertiser: str, at: datetime | None = None, days: int = 30) -> Overview:
    figures = Overview(at=at or datetime.now(UTC))
    _standing(figures, engine, ledger, advertiser)
    _opt_outs(figures, engine, days)
    _propagation(figures, engine)
    figures.retention = Counter(item.action for item in retention.plan(engine, at=figures.at))
    return figures


def _standing(figures: Overview, engine: Engine, ledger: Ledger, advertiser: str) -> None:
    people: set[int] = set()
    for person, channel, decision in standings(engine, ledger, advertiser=advertiser, at=figures.at):
        people.add(person.id)
        key = (channel.value, person.audience or "unknown", person.jurisdiction or "unknown")
        figures.reach.setdefault(key, Counter())[decision.verdict.value] += 1
        if not decision.allowed:
            codes = {r.code for r in decision.reasons if r.effect == "blocks"}  # once per decision, as the report
            figures.blockers.update((code, channel.value) for code in codes)
    figures.people = len(people)


def _opt_outs(figures: Overview, engine: Engine, days: int) -> None:
    """Opt-out events of the last `days` days, per day (every day shown, none missing) and per system of origin."""
    since = (figures.at - timedelta(days=days - 1)).date()
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    query = select(consent_events.c.occurred_at, consent_events.c.source_system).where(
        consent_events.c.kind.in_(OPT_OUT_KINDS), consent_events.c.occurred_at >= start
    )
    per_day: Counter = Counter()
    with reading(engine) as connection:
        for occurred_at, source in connection.execute(query):
            moment = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
            per_day[moment.astimezone(UTC).date()] += 1
            figures.opt_outs_by_source[source] += 1
    figures.opt_outs_by_day = [(since + timedelta(days=n), per_day[since + timedelta(days=n)]) for n in range(days)]


def _propagation(figures: Overview, engine: Engine) -> None:
    """The queue by status, and receipt-to-applied seconds of every opt-out done (the sync's own pushes aside)."""
    table = propagation_jobs.c
    with reading(engine) as connection:
        counts = connection.execute(select(table.status, func.count()).group_by(table.status))
        figures.queue = Counter({status: count for status, count in counts})
        done = connection.execute(
            select(table.received_at, table.done_at).where(table.done_at.is_not(None), table.source_system != "sync")
        )
        figures.latencies = sorted((done_at - received_at).total_seconds() for received_at, done_at in done)
