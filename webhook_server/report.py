"""`consentry report`: a self-contained HTML report (and a CSV of the same figures) for a data-protection officer.

Reachability per channel and audience, why contacts are blocked (each reason with its plain-language title, its legal
sources and its code, per channel), opt-outs and how fast they reached every system, and what falls due for
retention. Charts are inline SVG drawn by `charts`: the file opens anywhere, offline, with nothing to load.
"""

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, func, select

from consentry.sdk import retention
from consentry.sdk.catalogue import Source, reasons
from consentry.sdk.ledger import Ledger
from consentry.sdk.standing import standing_decision
from consentry.sdk.store import contacts, persons, propagation_jobs, reading
from consentry.sdk.vocabulary import Audience, Channel

from .charts import bar_chart
from .metrics import jobs_by_status, latency_scope, quantile, recent_latencies
from .unsubscribe import CHANNEL_NAMES

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN, Channel.POSTAL)
# Autoescaped like Flask's own templates: labels come from the data (reason codes, system names).
_TEMPLATES = Environment(loader=PackageLoader("consentry.webhook_server"), autoescape=select_autoescape(["html"]))
_TEMPLATES.globals["bar_chart"] = bar_chart
_CHANNEL_ORDER = {channel.value: index for index, channel in enumerate(CHANNELS)}
CSV_COLUMNS = ["section", "key", "subkey", "value", "channel", "legal_sources"]


CHUNK = 5000  # people whose events are read in one query: well under SQLite's bound parameters


def standings(engine: Engine, ledger: Ledger, *, advertiser: str, at: datetime) -> Iterator[tuple[Any, Any, Any]]:
    """(person, channel, decision) for everyone a system holds and every channel: the standing verdict from the
    ledger, the suppression list and the rules, which the report and the console count. A person carries the
    jurisdiction and audience their records give; their events are read a chunk of people per query."""
    query = (
        select(
            persons.c.id,
            persons.c.email,
            persons.c.phone,
            func.min(contacts.c.jurisdiction).label("jurisdiction"),
            func.min(contacts.c.audience).label("audience"),
        )
        .join(contacts, contacts.c.person_id == persons.c.id)
        .group_by(persons.c.id, persons.c.email, persons.c.phone)
    )
    with reading(engine) as connection:
        people = list(connection.execute(query))
    listed = (
        ledger.suppression.of_people([(person.email, person.phone) for person in people])
        if ledger.suppression is not None
        else [None] * len(people)  # a ledger without a suppression list lists nobody
    )
    ids = [person.id for person in people]
    history: dict[int, list] = {}
    for start in range(0, len(ids), CHUNK):
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
                at=at,
                suppression=suppression,
            )
            yield person, channel, decision


def blocking_codes(decision: Any) -> set[str]:
    """The codes of the reasons that block a decision, each once: the report and the console count a blocked
    contact once per code and channel, however many of that code's reasons the decision gives."""
    return {reason.code for reason in decision.reasons if reason.effect == "blocks"}


# The report reads a month of opt-outs' latency (at most metrics.LATENCY_SAMPLE jobs), where /metrics reads an hour.
LATENCY_WINDOW = timedelta(days=30)


def gather(engine: Engine, ledger: Ledger, *, advertiser: str, at: datetime | None = None) -> dict:
    at = at or datetime.now(UTC)
    reach: dict[tuple[str, str], Counter] = {}
    blocked: Counter = Counter()  # blocked contacts per (reason code, channel)
    people: set[int] = set()
    for person, channel, decision in standings(engine, ledger, advertiser=advertiser, at=at):
        people.add(person.id)
        reach.setdefault((channel.value, person.audience or "unknown"), Counter())[decision.verdict.value] += 1
        if not decision.allowed:
            blocked.update((code, channel.value) for code in blocking_codes(decision))
    table = propagation_jobs.c
    with reading(engine) as connection:  # counted by the database: the job table only grows
        jobs = jobs_by_status(connection)
        routes = Counter(
            {
                f"{source} → {target}": count
                for source, target, count in connection.execute(
                    select(table.source_system, table.target_system, func.count()).group_by(
                        table.source_system, table.target_system
                    )
                )
            }
        )
        latencies = recent_latencies(connection, now=at, window=LATENCY_WINDOW)
    due = Counter(item.action for item in retention.plan(engine, at=at))
    return {
        "at": at,
        "people": len(people),
        "reach": reach,
        "blocked": blocked,
        "jobs": jobs,
        "routes": routes,
        "latencies": latencies,
        "retention": due,
    }


@dataclass(frozen=True, slots=True)
class BlockingReason:
    """A reason code as the report shows it: what it means, where its law is, and whom it blocks on which channel."""

    code: str
    title: str  # "" for a code the catalogue does not know
    sources: tuple[Source, ...]
    total: int
    channels: tuple[tuple[str, int], ...]  # (channel, blocked contacts), in the order of CHANNELS

    @property
    def legal_sources(self) -> str:
        """The sources in one CSV cell: `title <url>; title`."""
        return "; ".join(f"{s.title} <{s.url}>" if s.url else s.title for s in self.sources)

    def on(self, channel: str) -> int:
        """Blocked contacts on one channel (0 when none)."""
        return dict(self.channels).get(channel, 0)


def blocking_reasons(figures: dict) -> list[BlockingReason]:
    """Every blocking reason of the report's figures, the most frequent first, with its contacts per channel."""
    return blocking_reasons_of(figures["blocked"])


def blocking_reasons_of(blocked: Counter) -> list[BlockingReason]:
    """Every blocking reason of blocked contacts counted per (reason code, channel), the most frequent first (then
    by code), its total the sum over its channels, its channels in the order of CHANNELS."""
    known = reasons()
    per_code: dict[str, list[tuple[str, int]]] = {}
    for (code, channel), count in blocked.items():
        per_code.setdefault(code, []).append((channel, count))
    found = []
    for code, channels in per_code.items():
        info = known.get(code)
        found.append(
            BlockingReason(
                code=code,
                title=info.title if info else "",
                sources=info.sources if info else (),
                total=sum(count for _, count in channels),
                channels=tuple(sorted(channels, key=lambda item: _channel_rank(item[0]))),
            )
        )
    return sorted(found, key=lambda reason: (-reason.total, reason.code))


def _blocked_per_channel(found: list[BlockingReason]) -> list[tuple[str, list[tuple[str, int]]]]:
    """For each channel that has blocked contacts: (channel, [(reason title or code, contacts)]), most first."""
    charts: dict[str, list[tuple[str, int]]] = {}
    for reason in found:
        for channel, count in reason.channels:
            charts.setdefault(channel, []).append((reason.title or reason.code, count))
    ordered = sorted(charts.items(), key=lambda item: _channel_rank(item[0]))
    return [(channel, sorted(rows, key=lambda row: -row[1])) for channel, rows in ordered]


def _channel_rank(channel: str) -> int:
    return _CHANNEL_ORDER.get(channel, len(_CHANNEL_ORDER))


def write(figures: dict, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = directory / "report.csv", directory / "report.html"
    found = blocking_reasons(figures)
    with csv_path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for (channel, audience), counts in sorted(figures["reach"].items()):
            for verdict, count in sorted(counts.items()):
                writer.writerow(["reachability", channel, f"{audience}:{verdict}", count, channel, ""])
        for reason in found:
            writer.writerow(["blocked_by", reason.code, reason.title, reason.total, "", reason.legal_sources])
        for reason in found:
            for channel, count in reason.channels:
                writer.writerow(["blocked_by_channel", reason.code, reason.title, count, channel, reason.legal_sources])
        for status, count in sorted(figures["jobs"].items()):
            writer.writerow(["propagation_jobs", status, "", count, "", ""])
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            latency = round(quantile(figures["latencies"], q), 3)
            writer.writerow(["propagation_latency_seconds", name, "", latency, "", ""])
        for action, count in sorted(figures["retention"].items()):
            writer.writerow(["retention_due", action, "", count, "", ""])
    latencies = figures["latencies"]
    names = CHANNEL_NAMES["en"]
    page = _TEMPLATES.get_template("report.html").render(
        at=figures["at"],
        people=figures["people"],
        channel_names=names,
        reach=sorted(figures["reach"].items()),
        reachable=[
            (f"{names.get(c, c)} / {a}", n.get("allowed", 0) + n.get("allowed_with_conditions", 0))
            for (c, a), n in sorted(figures["reach"].items())
        ],
        reasons=found,
        blocked_charts=_blocked_per_channel(found),
        jobs=sorted(figures["jobs"].items()),
        jobs_total=sum(figures["jobs"].values()),
        latency_scope=latency_scope(LATENCY_WINDOW),
        p50=quantile(latencies, 0.5),
        p99=quantile(latencies, 0.99),
        routes=figures["routes"].most_common(),
        retention=figures["retention"],
    )
    html_path.write_text(page, encoding="utf-8")
    return html_path, csv_path
