"""`consentry report`: a self-contained HTML report (and a CSV of the same figures) for a data-protection officer.

Reachability per channel and audience, why contacts are blocked, opt-outs and how fast they reached every system,
and what falls due for retention. Charts are inline SVG: the file opens anywhere, offline, with nothing to load.
"""

import csv
import html
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from consentry.sdk import retention
from consentry.sdk.ledger import Ledger
from consentry.sdk.standing import standing_decision
from consentry.sdk.store import contacts, persons, propagation_jobs, reading
from consentry.sdk.vocabulary import Audience, Channel

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN, Channel.POSTAL)


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
    listed = ledger.suppression.of_people([(person.email, person.phone) for person in people])
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


def _bars(items: list[tuple[str, int]], *, width: int = 520, colour: str = "#0b5394") -> str:
    """A horizontal bar chart as inline SVG, with text labels so it reads without colour."""
    if not items:
        return "<p>Nothing to show.</p>"
    top = max(value for _, value in items) or 1
    row = 22
    parts = [
        f'<svg role="img" width="{width + 260}" height="{row * len(items) + 4}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="12">'
    ]
    for index, (label, value) in enumerate(items):
        y = index * row + 2
        length = int(width * value / top)
        parts.append(
            f'<text x="0" y="{y + 14}">{html.escape(label)}</text>'
            f'<rect x="220" y="{y}" width="{length}" height="{row - 6}" fill="{colour}"/>'
            f'<text x="{226 + length}" y="{y + 14}">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
            writer.writerow(["blocked_by", code, "", count])
        for status, count in sorted(figures["jobs"].items()):
            writer.writerow(["propagation_jobs", status, "", count])
        writer.writerow(["propagation_latency_seconds", "p50", "", round(_quantile(figures["latencies"], 0.5), 3)])
        writer.writerow(["propagation_latency_seconds", "p99", "", round(_quantile(figures["latencies"], 0.99), 3)])
        for action, count in sorted(figures["retention"].items()):
            writer.writerow(["retention_due", action, "", count])
    reach_rows = "".join(
        f"<tr><th scope='row'>{html.escape(channel)}</th><td>{html.escape(audience)}</td>"
        + "".join(f"<td>{counts.get(v, 0)}</td>" for v in ("allowed", "allowed_with_conditions", "forbidden"))
        + "</tr>"
        for (channel, audience), counts in sorted(figures["reach"].items())
    )
    allowed_chart = _bars(
        [
            (f"{c} / {a}", n.get("allowed", 0) + n.get("allowed_with_conditions", 0))
            for (c, a), n in sorted(figures["reach"].items())
        ]
    )
    latencies = figures["latencies"]
    job_text = ", ".join(f"{status} {count}" for status, count in sorted(figures["jobs"].items()))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Consentry report</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:.25rem .6rem;text-align:right}}
th[scope=row],td:nth-child(2){{text-align:left}}</style></head><body>
<h1>Consentry report</h1>
<p>As of {figures["at"].strftime("%Y-%m-%d %H:%M UTC")}, {figures["people"]} people across the connected systems.</p>
<h2>Who may be contacted</h2>
<table><thead><tr><th scope="col">channel</th><th scope="col">audience</th><th scope="col">allowed</th>
<th scope="col">with conditions</th><th scope="col">forbidden</th></tr></thead><tbody>{reach_rows}</tbody></table>
<h3>Reachable contacts per channel and audience</h3>{allowed_chart}
<h2>Why contacts are blocked</h2>{_bars(figures["blockers"].most_common(12), colour="#a61c00")}
<h2>Opt-outs and their propagation</h2>
<p>{sum(figures["jobs"].values())} propagation jobs: {job_text}.
Receipt to applied: p50 {_quantile(latencies, 0.5):.2f} s, p99 {_quantile(latencies, 0.99):.2f} s.</p>
{_bars(figures["routes"].most_common(), colour="#38761d")}
<h2>Retention</h2>
<p>{figures["retention"].get("delete", 0)} contacts past their retention period (to delete),
{figures["retention"].get("repermission", 0)} at their anniversary (one re-permission message allowed).</p>
</body></html>"""
    html_path.write_text(page, encoding="utf-8")
    return html_path, csv_path
