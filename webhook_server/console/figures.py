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
from consentry.sdk.standing import standing_decision
from consentry.sdk.store import consent_events, propagation_jobs, reading
from consentry.sdk.vocabulary import Audience

from ..report import CHANNELS, people_on_file

OPT_OUT_KINDS = tuple(kind.value for kind in EventKind if kind.opts_out)
CHUNK = 5000  # people whose events are read in one query: well under SQLite's bound parameters


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
    people, listed = people_on_file(engine, ledger)
    figures.people = len(people)
    ids = [person.id for person in people]
    history: dict[int, list] = {}
    for start in range(0, len(ids), CHUNK):  # a query per chunk of people, not one per person
        history |= ledger.events_of_people(ids[start : start + CHUNK])
    audiences = {audience.value for audience in Audience}
    for person, suppression in zip(people, listed, strict=True):
        events = history.get(person.id, [])
        audience = Audience(person.audience) if person.audience in audiences else None
        for channel in CHANNELS:
            decision, _ = standing_decision(
                events,
                channel,
                advertiser=advertiser,
                audience=audience,
                jurisdiction=person.jurisdiction,
                at=figures.at,
                suppression=suppression,
            )
            key = (channel.value, person.audience or "unknown", person.jurisdiction or "unknown")
            figures.reach.setdefault(key, Counter())[decision.verdict.value] += 1
            if not decision.allowed:
                figures.blockers.update((r.code, channel.value) for r in decision.reasons if r.effect == "blocks")


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
