"""The overview's figures: who may be contacted (by channel, audience and jurisdiction), what blocks the others
(by reason and channel), opt-outs per day and where they came from, the propagation queue and its recent latency
(read as `/metrics` reads it), and what retention makes due.

`report.gather` keys reachability by channel and audience only and counts blocking reasons across channels; the
console needs both by jurisdiction and channel, so it makes its own one pass over the people with the same
standing verdict (`sdk.standing`), rather than evaluating everyone twice.

Computing them judges everyone on every channel: `FiguresCache` keeps them a short while per process.
"""

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from consentry.sdk import retention
from consentry.sdk.consent_state import EventKind
from consentry.sdk.ledger import Ledger
from consentry.sdk.store import consent_events, reading

from ..metrics import jobs_by_status, latency_scope, quantile, recent_latencies
from ..report import BlockingReason, blocking_codes, blocking_reasons_of, standings

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
    latencies: list[float] = field(default_factory=list)  # ascending; of the jobs `recent_latencies` reads
    retention: Counter = field(default_factory=Counter)

    def reach_by(self, *keys: int) -> list[tuple[str, Counter]]:
        """Verdict counts grouped by some of (channel 0, audience 1, jurisdiction 2), labelled `a · b`."""
        grouped: dict[str, Counter] = {}
        for key, counts in self.reach.items():
            grouped.setdefault(" · ".join(key[k] for k in keys), Counter()).update(counts)
        return sorted(grouped.items())

    def quantile(self, q: float) -> float:
        return quantile(self.latencies, q)

    @property
    def latency_scope(self) -> str:
        return latency_scope()

    def blocking_reasons(self) -> list[BlockingReason]:
        """Each reason with its title, legal sources and contacts per channel, as the report groups them."""
        return blocking_reasons_of(self.blockers)


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
            figures.blockers.update((code, channel.value) for code in blocking_codes(decision))
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
    """The queue by status, and receipt-to-applied seconds of the latest opt-outs done, as `/metrics` reads them."""
    with reading(engine) as connection:
        figures.queue = jobs_by_status(connection)
        figures.latencies = recent_latencies(connection, now=figures.at)


FIGURES_TTL = timedelta(seconds=30)  # how long a process shows the same figures; the page says when they were made


class FiguresCache:
    """The overview's figures of one app, computed at most once per `ttl` in a process, and at once again after
    `drop` (an operator's action that changes what they count). Safe across threads: one thread computes while the
    others wait for its figures, rather than each judging everyone again. Figures are read after their `at`, so
    what a page shows is never older than `ttl` before it is served."""

    def __init__(self, compute: Callable[[datetime], Overview], *, ttl: timedelta = FIGURES_TTL) -> None:
        self._compute = compute
        self.ttl = ttl
        self._computing = threading.Lock()  # held while computing: one computation at a time
        self._guard = threading.Lock()  # held only to read or change the fields below, never while computing
        self._held: Overview | None = None
        self._generation = 0  # moved on by each drop: figures begun before it are not kept

    def figures(self, *, now: datetime | None = None) -> Overview:
        with self._computing:
            now = now or datetime.now(UTC)  # read once the lock is ours: a wait does not age the figures
            with self._guard:
                held, generation = self._held, self._generation
            if held is not None and held.at <= now < held.at + self.ttl:
                return held
            figures = self._compute(now)
            with self._guard:
                if self._generation == generation:
                    self._held = figures
            return figures

    def drop(self) -> None:
        """Forget the figures held, and any being computed now: the next page computes them afresh."""
        with self._guard:
            self._generation += 1
            self._held = None
