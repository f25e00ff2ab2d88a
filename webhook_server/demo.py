"""The main job on the embedded defaults: `consentry demo`.

Starts the sandbox of every connector that ships one (Mailchimp, HubSpot and Salesforce), the webhook server and a
worker on 127.0.0.1 with SQLite; seeds a realistic mix of French and European contacts (overlapping across
systems, some with conflicting statuses); runs a sync; opts people out in each system and through an unsubscribe
link; shows them reaching every system with their latencies; records a consent and a refused call through the
HTTP API, with a dialer's pre-call check before and after; writes the report; and shuts everything down. Its
folder (database, logs, report) is kept only when `home` is given; otherwise a temporary one is removed at the
end, whether the demo succeeded or not. Its last line says what it proved, from what it measured; an opt-out that
did not reach every system makes it say so and exit with 1.
"""

import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import requests

from consentry.connectors.sandbox_kit import Person
from consentry.sdk.synthetic import contact_rows
from consentry.sdk.unsubscribe import UnsubscribeTokens, build_link

from .api.store import create_key
from .report import gather, write
from .runtime import build_runtime
from .stack import Stack
from .sync import run_sync


def run_demo(*, people: int = 3000, home: Path | None = None, out=print) -> int:
    if home is not None:
        return _run(people=people, home=home, out=out, kept=True)
    temporary = Path(tempfile.mkdtemp(prefix="consentry-demo-"))
    try:
        return _run(people=people, home=temporary, out=out, kept=False)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _run(*, people: int, home: Path, out, kept: bool) -> int:
    started = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    out(f"Consentry demo in {home}")
    with Stack(home=home, database_url=f"sqlite:///{home / 'consentry.db'}") as stack:
        out(f"  sandboxes: {', '.join(f'{n} {s.url}' for n, s in stack.sandboxes.items())}")
        out(f"  webhook server {stack.server_url} (gunicorn), one propagation worker")
        seed_mix(stack, people)
        runtime = build_runtime(environ=stack.env)
        try:
            out(f"\nSync of the {len(stack.sandboxes)} systems:")
            summary = run_sync(runtime)
            out("\n".join(f"  {line}" for line in summary.lines()))
            out("\nOpt-outs, and how fast they reach the other systems:")
            targets = [(system, f"demo.{system}@example.com") for system in stack.sandboxes]
            for _system, email in targets:
                stack.seed_person(email)
            reached: dict[str, dict[str, float]] = {}  # where each opt-out was made -> seconds until each system
            for system, email in targets:
                began = time.monotonic()
                stack.unsubscribe_in(system, email)
                reached[system] = _until_everywhere(stack, email, began)
                out(f"  {system:<11} unsubscribe: {_latencies(reached[system], stack)}")
            email = "demo.link@example.com"
            stack.seed_person(email)
            tokens = UnsubscribeTokens(stack.env["CONSENTRY_UNSUBSCRIBE_SECRET"])
            link = build_link(
                runtime.services.engine, tokens, base_url=stack.server_url, email=email, advertiser=runtime.advertiser
            )
            began = time.monotonic()
            requests.post(link.url, data={"List-Unsubscribe": "One-Click"}, timeout=10).raise_for_status()
            reached[LINK] = _until_everywhere(stack, email, began)
            out(f"  one-click link unsubscribe: {_latencies(reached[LINK], stack)}")
            verdicts = _through_the_api(stack, runtime, out)
            figures = gather(runtime.services.engine, runtime.services.ledger, advertiser=runtime.advertiser)
            html_path, csv_path = write(figures, home)
            if kept:
                out(f"\nReport: {html_path}\n        {csv_path}")
            else:
                out(f"\nReport: {html_path.name} and {csv_path.name}, removed with the demo's folder at the end")
                out("        (`consentry demo --home DIR` keeps them, with the database and the logs)")
        finally:
            runtime.close()
    out(f"\nDone in {time.monotonic() - started:.0f} s; every process and server has stopped.")
    systems = sorted(stack.sandboxes)
    line, everywhere = proved(reached, systems, verdicts)
    out(line)
    return 0 if everywhere else 1


LINK = "link"  # the opt-out made through a one-click unsubscribe link, beside those made in each system
WAIT = 30.0  # seconds an opt-out has to reach every system


def proved(reached: dict[str, dict[str, float]], systems: list[str], verdicts: list[str]) -> tuple[str, bool]:
    """The demo's last line, from what it measured: whether each opt-out reached every other system and how fast
    the slowest did, and the pre-call check's three answers; with whether every opt-out got everywhere."""
    late = {where: sorted(set(systems) - set(seen)) for where, seen in reached.items() if set(systems) - set(seen)}
    if late:
        missed = "; ".join(
            f"the opt-out made {_made(where)} had not reached {', '.join(gone)}" for where, gone in late.items()
        )
        return f"Not proved: {missed} after {WAIT:.0f} s.", False
    slowest = max(seconds for where, seen in reached.items() for system, seconds in seen.items() if system != where)
    before, with_consent, after = verdicts
    return (
        f"Proved: each of {len(reached)} opt-outs ({', '.join(map(_made, reached))}) reached every other system "
        f"within {slowest:.2f} s; the dialer's pre-call check answered {before} without consent, {with_consent} "
        f"with a consent recorded through the API, and {after} after the refusal it reported.",
        True,
    )


def _made(where: str) -> str:
    return "by a one-click link" if where == LINK else f"in {where}"


def _through_the_api(stack: Stack, runtime, out) -> list[str]:
    """A web form records a consent to calls with its proof, a dialer checks before calling, reports a refusal,
    and checks again: the /v1 API that forms and dialers use. The three checks' verdicts, in order."""
    key = create_key(runtime.services.engine, "demo", ["decide", "record", "calls"])
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    phone, now = "+33612345678", datetime.now(UTC)
    call_at = _calling_hours_after(now)  # not whenever the demo runs: at lunch or at night no call is lawful
    out(f"\nThe HTTP API (/v1), as a web form and a dialer use it (a call planned for {call_at.isoformat()}):")
    verdicts = []

    def check(label: str) -> None:
        contact = {
            "phone": phone,
            "channel": "phone_human",
            "audience": "b2c",
            "jurisdiction": "FR",
            "at": call_at.isoformat(),
        }
        answer = api.post(f"{stack.server_url}/v1/decisions", json=contact, timeout=10)
        answer.raise_for_status()
        decision = answer.json()
        codes = ", ".join(reason["code"] for reason in decision["reasons"][:3])
        after = f"; next lawful call {decision['next_lawful_call']}" if decision.get("next_lawful_call") else ""
        out(f"  {label:<34} {decision['decision']} ({codes}){after}")
        verdicts.append(decision["decision"])

    check("pre-call check, no consent:")
    consent = {
        "phone": phone,
        "channel": "phone_human",
        "kind": "granted",
        "occurred_at": now.isoformat(),
        "proof": {
            "collection_point": "https://shop.example/callback-form",
            "wording": "Call me about my quote",
            "wording_version": "v1",
            "method": "unticked_checkbox",
        },
    }
    answer = api.post(
        f"{stack.server_url}/v1/consents", json=consent, headers={"Idempotency-Key": "demo-form-1"}, timeout=10
    )
    answer.raise_for_status()
    out(f"  {'web form consent recorded:':<34} {answer.status_code} {answer.json()['event_key']}")
    check("pre-call check, with the consent:")
    call = {"phone": phone, "called_at": now.isoformat(), "outcome": "refused"}
    answer = api.post(f"{stack.server_url}/v1/calls", json=call, headers={"Idempotency-Key": "demo-call-1"}, timeout=10)
    answer.raise_for_status()
    out(f"  {'dialer reports a refusal:':<34} {answer.status_code} {answer.json()['event_key']}")
    check("pre-call check after the refusal:")
    return verdicts


def _calling_hours_after(now: datetime) -> datetime:
    """10:30 in Paris on the next working day (Monday to Friday, not a French public holiday): inside the hours
    when prospecting calls are allowed (Code de la consommation D223-9)."""
    paris = ZoneInfo("Europe/Paris")
    day = now.astimezone(paris).date() + timedelta(days=1)
    closed = holidays.country_holidays("FR", years=[day.year, day.year + 1])
    while day.weekday() >= 5 or day in closed:
        day += timedelta(days=1)
    return datetime.combine(day, dt_time(10, 30), tzinfo=paris)


def _until_everywhere(stack: Stack, email: str, began: float) -> dict[str, float]:
    """Seconds until each system showed the opt-out; a system it did not reach within WAIT is left out."""
    seen: dict[str, float] = {}
    while time.monotonic() - began < WAIT and len(seen) < len(stack.sandboxes):
        for system, done in stack.opted_out_in(email).items():
            if done and system not in seen:
                seen[system] = time.monotonic() - began
        time.sleep(0.05)
    return seen


def _latencies(seen: dict[str, float], stack: Stack) -> str:
    if len(seen) < len(stack.sandboxes):
        return f"NOT everywhere after {WAIT:.0f} s ({', '.join(sorted(seen))})"
    return ", ".join(f"{system} {seconds:.2f} s" for system, seconds in sorted(seen.items(), key=lambda i: i[1]))


def seed_mix(stack: Stack, people: int) -> None:
    """Each person is in one, two or three systems; some have opted out in one of them only."""
    chooser = random.Random(7)
    systems = tuple(stack.sandboxes)
    held: dict[str, list[Person]] = {system: [] for system in systems}
    seen = set()
    for row in contact_rows(people, seed=11):
        email, opted_out = row["email"], row["consent_state"] == "withdrawn"
        if not email or email.lower() in seen:  # the generator may repeat a name at large sizes
            continue
        seen.add(email.lower())
        where = chooser.sample(systems, min(chooser.choice((1, 1, 2, 2, 3)), len(systems)))
        out_in = chooser.choice(where) if opted_out else None
        company = "Example SA" if row["audience"] == "b2b_nominative" else None
        for system in where:
            held[system].append(
                Person(
                    email=email,
                    last_name=row["contact_id"],
                    opted_out=out_in == system,
                    country=row["jurisdiction"],
                    company=company,
                )
            )
    for system, persons in held.items():
        stack.seed(system, persons)
