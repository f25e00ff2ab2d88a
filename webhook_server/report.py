"""`consentry report`: a self-contained HTML report (and a CSV of the same figures) for a data-protection officer.

Reachability per channel and audience, why contacts are blocked (each reason code with its title), opt-outs and how
fast they reached every system, and what falls due for retention. Charts are inline SVG: the file opens anywhere,
offline, with nothing to load.
"""

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, func, select

from consentry.sdk import retention
from consentry.sdk.catalogue import reason_title
from consentry.sdk.ledger import Ledger
from consentry.sdk.standing import standing_decision
from consentry.sdk.store import contacts, persons, propagation_jobs, reading
from consentry.sdk.vocabulary import Audience, Channel

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN, Channel.POSTAL)
# Autoescaped like Flask's own templates: labels come from the data (reason codes, system names).
_TEMPLATES = Environment(loader=PackageLoader("consentry.webhook_server"), autoescape=select_autoescape(["html"]))


def gather(engine: Engine, ledger: Ledger, *, advertiser: str, at: datetime | None = None) -> dict:
    at = at or datetime.now(UTC)
    reach: dict[tuple[str, str], Counter] = {}
    blockers: Counter = Counter()
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
    suppression_list = ledger.suppression
    listed = (
        suppression_list.of_people([(person.email, person.phone) for person in people])
        if suppression_list is not None
        else [None] * len(people)  # a ledger without a suppression list lists nobody
    )
    for person, suppression in zip(people, listed, strict=True):
        events = ledger.events(email=person.email, phone=person.phone)
        audience = Audience(person.audience) if person.audience in {a.value for a in Audience} else None
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
            reach.setdefault((channel.value, person.audience or "unknown"), Counter())[decision.verdict.value] += 1
            if not decision.allowed:
                blockers.update(r.code for r in decision.reasons if r.effect == "blocks")
    table = propagation_jobs.c
    with reading(engine) as connection:
        jobs = list(
            connection.execute(
                select(table.source_system, table.target_system, table.status, table.received_at, table.done_at)
            )
        )
    latencies = sorted(
        (j.done_at - j.received_at).total_seconds() for j in jobs if j.done_at and j.source_system != "sync"
    )
    due = Counter(item.action for item in retention.plan(engine, at=at))
    return {
        "at": at,
        "people": len(people),
        "reach": reach,
        "blockers": blockers,
        "jobs": Counter(j.status for j in jobs),
        "routes": Counter(f"{j.source_system} → {j.target_system}" for j in jobs),
        "latencies": latencies,
        "retention": due,
    }


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def write(figures: dict, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = directory / "report.csv", directory / "report.html"
    with csv_path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["section", "key", "subkey", "value"])
        for (channel, audience), counts in sorted(figures["reach"].items()):
            for verdict, count in sorted(counts.items()):
                writer.writerow(["reachability", channel, f"{audience}:{verdict}", count])
        for code, count in figures["blockers"].most_common():
            writer.writerow(["blocked_by", code, reason_title(code), count])
        for status, count in sorted(figures["jobs"].items()):
            writer.writerow(["propagation_jobs", status, "", count])
        writer.writerow(["propagation_latency_seconds", "p50", "", round(_quantile(figures["latencies"], 0.5), 3)])
        writer.writerow(["propagation_latency_seconds", "p99", "", round(_quantile(figures["latencies"], 0.99), 3)])
        for action, count in sorted(figures["retention"].items()):
            writer.writerow(["retention_due", action, "", count])
    latencies = figures["latencies"]
    blocked = figures["blockers"].most_common(12)
    page = _TEMPLATES.get_template("report.html").render(
        at=figures["at"],
        people=figures["people"],
        reach=sorted(figures["reach"].items()),
        reachable=[
            (f"{c} / {a}", n.get("allowed", 0) + n.get("allowed_with_conditions", 0))
            for (c, a), n in sorted(figures["reach"].items())
        ],
        blocker_bars=blocked,
        blockers=[(code, reason_title(code), count) for code, count in blocked],
        jobs=sorted(figures["jobs"].items()),
        jobs_total=sum(figures["jobs"].values()),
        p50=_quantile(latencies, 0.5),
        p99=_quantile(latencies, 0.99),
        routes=figures["routes"].most_common(),
        retention=figures["retention"],
    )
    html_path.write_text(page, encoding="utf-8")
    return html_path, csv_path
