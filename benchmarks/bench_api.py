"""The HTTP API's decisions through gunicorn on this machine's loopback (issue 22), on SQLite.

    python benchmarks/bench_api.py --json       # full size: 1,000,000 suppression entries, 100,000 people
    python benchmarks/bench_api.py [--people 100000] [--suppressed 1000000] [--duration 10] [--rounds 3]

Needs `wrk` (Debian package). Builds a SQLite database straight into its tables (as bench_store.py does): people
with an email address and a number, a consent to email for each (every tenth withdrawn again), three recent calls
for every fifth, and a suppression list of `--suppressed` hashed entries (every seventh person among them). Then it
starts, under the same gunicorn settings (the Stack's: bench_ingest.py's `gunicorn()`), the bare Flask endpoint of
bench_ingest.py and the real server (with its inbox writer process, as `consentry serve` runs on SQLite), with an
API key of scope `decide` and the rate limit set out of the way, and measures in alternating rounds with wrk the
bare endpoint and single `POST /v1/decisions` (varying contacts: known, suppressed, called, unknown), then the
median of 20 batches of 1,000 decisions sent with requests. `--json` prints {"bare_rps", "decision_rps",
"decision_p99_ms", "batch_median_ms"} as one line on stdout (the rest goes to stderr). The targets of issue 22:
decision_p99_ms < 20, decision_rps >= 0.5 x bare_rps, batch_median_ms < 150.
"""

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import bench_ingest  # beside this script, which puts its folder on sys.path
import requests
from sqlalchemy import insert, select

from consentry.sdk.settings import load_settings
from consentry.sdk.store import call_log, consent_events, make_engine, persons, suppression_entries, upgrade
from consentry.sdk.suppression import Keyring
from consentry.webhook_server.api.store import create_key
from consentry.webhook_server.inbox_writer import start_writer, writer_settings
from consentry.webhook_server.metrics import shared_counters
from consentry.webhook_server.stack import Stack, free_port

ADVERTISER = "bench"
AT = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
CHUNK = 10_000
DECISIONS_LUA = """
local bodies, index = {}, 0
for line in io.lines("REQUESTS") do table.insert(bodies, line) end
request = function()
  index = index % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer KEY"},
    bodies[index])
end
"""


def email_of(number: int) -> str:
    return f"person{number}@example.com"


def phone_of(number: int) -> str:
    return f"+3361{number:07d}"


def build(url: str, keyring: Keyring, people: int, suppressed: int, say) -> None:
    """The database, written straight into its tables in chunks of 10,000 rows."""
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        for start in range(0, people, CHUNK):
            rows = [
                {"email": email_of(n), "phone": phone_of(n), "created_at": AT}
                for n in range(start, min(start + CHUNK, people))
            ]
            connection.execute(insert(persons), rows)
        ids = dict(connection.execute(select(persons.c.email, persons.c.id)).all())
        events, calls = [], []
        for n in range(people):
            person = ids[email_of(n)]
            events.append(_event(f"grant-{n}", person, "granted", AT - timedelta(days=60)))
            if n % 10 == 0:
                events.append(_event(f"withdraw-{n}", person, "withdrawn", AT - timedelta(days=5)))
            if n % 5 == 0:
                for day in (2, 9, 20):
                    called = AT - timedelta(days=day)
                    calls.append(
                        {
                            "person_id": person,
                            "advertiser": ADVERTISER,
                            "event_key": f"call-{n}-{day}",
                            "outcome": "no_answer",
                            "called_at": called,
                            "recorded_at": called,
                        }
                    )
            if len(events) >= CHUNK:
                connection.execute(insert(consent_events), events)
                events = []
            if len(calls) >= CHUNK:
                connection.execute(insert(call_log), calls)
                calls = []
        for table, rows in ((consent_events, events), (call_log, calls)):
            if rows:
                connection.execute(insert(table), rows)
    say(f"built {people:,} people, their events and calls in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    listed_people = list(range(0, people, 7))[:suppressed]
    identifiers = [email_of(n) for n in listed_people]
    identifiers += [f"listed{n}@example.com" for n in range(suppressed - len(identifiers))]
    with engine.begin() as connection:
        for start in range(0, len(identifiers), CHUNK):
            rows = [
                {
                    "identifier_hash": keyring.digest(identifier),
                    "pepper_id": keyring.current_id,
                    "identifier_kind": "email",
                    "channels": "all",
                    "reason_code": "BENCH",
                    "added_on": date(2026, 1, 1),
                }
                for identifier in identifiers[start : start + CHUNK]
            ]
            connection.execute(insert(suppression_entries), rows)
    say(f"built {len(identifiers):,} suppression entries in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def _event(key: str, person: int, kind: str, when: datetime) -> dict:
    return {
        "event_key": key,
        "person_id": person,
        "kind": kind,
        "channel": "email",
        "purpose": "prospecting",
        "advertiser": ADVERTISER,
        "occurred_at": when,
        "recorded_at": when,
        "source_system": "bench",
        "collection_point": "https://shop.example/newsletter" if kind == "granted" else None,
        "wording": "Yes, email me" if kind == "granted" else None,
        "method": "double_opt_in" if kind == "granted" else None,
    }


def contacts(count: int, people: int, suppressed: int, seed: int) -> list[dict]:
    """Varied questions: people on file by email (consent, withdrawn, suppressed), people called by phone,
    strangers on the suppression list, strangers unknown everywhere."""
    chance = random.Random(seed)
    made = []
    for _ in range(count):
        n = chance.randrange(people)
        choice = chance.randrange(5)
        base = {"channel": "email", "audience": "b2c", "jurisdiction": "FR", "facts": {"data_source": "form"}}
        if choice == 0:
            made.append({**base, "email": email_of(n)})
        elif choice == 1:
            made.append({**base, "email": email_of(n - n % 7)})  # on the suppression list
        elif choice == 2:
            call = {"channel": "phone_human", "audience": "b2b_nominative", "at": AT.isoformat()}
            facts = {"existing_customer": True, "offer_related_to_contract": True, "callee_is_consumer": False}
            made.append({**call, "phone": phone_of(n - n % 5), "facts": facts})
        elif choice == 3:
            made.append({**base, "email": f"listed{chance.randrange(max(suppressed - people // 7, 1))}@example.com"})
        else:
            made.append({**base, "email": f"stranger{chance.randrange(10**9)}@example.org"})
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="people in the ledger (default 100,000)")
    parser.add_argument("--suppressed", type=int, default=1_000_000, help="suppression entries (default 1,000,000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of bare and decisions (default 3)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 timed (default 20)")
    parser.add_argument("--json", action="store_true", help="the medians as one JSON line on stdout, the rest stderr")
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="consentry-bench-api-"))
    try:
        with ExitStack() as running:
            figures = measure(arguments, work, running)
        if arguments.json:
            print(json.dumps(figures))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(arguments, work: Path, running: ExitStack) -> dict:
    def say(line: str) -> None:
        print(line, file=sys.stderr if arguments.json else sys.stdout, flush=True)

    server = f"gunicorn {Stack.gunicorn_workers} workers x {Stack.gunicorn_threads} threads"
    say(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {server}; SQLite in {work}")
    url = f"sqlite:///{work / 'consentry.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENTRY_")}
    env.update(
        {
            "CONSENTRY_HOME": str(work),
            "CONSENTRY_DATABASE_URL": url,
            "CONSENTRY_SUPPRESSION_PEPPER": secrets.token_urlsafe(32),
            "CONSENTRY_UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32),
            "CONSENTRY_ADVERTISER": ADVERTISER,
            "CONSENTRY_API_RATE_LIMIT": "100000000/minute",
        }
    )
    build(url, Keyring.from_settings(load_settings(env)), arguments.people, arguments.suppressed, say)
    engine = make_engine(url)
    key = create_key(engine, "bench", ["decide"])
    engine.dispose()
    counters, directory = shared_counters({})
    env.update(counters)
    if directory is not None:
        running.callback(shutil.rmtree, directory, True)
    env.update(running.enter_context(writer_settings()))  # as `consentry serve` on SQLite
    with (work / "inbox.log").open("ab") as log:
        writer = start_writer(env, stdout=log, stderr=log)
    running.enter_context(bench_ingest._stopping(writer))

    singles = contacts(5000, arguments.people, arguments.suppressed, seed=1)
    (work / "requests.txt").write_text("".join(json.dumps(contact) + "\n" for contact in singles))
    script = work / "decisions.lua"
    script.write_text(DECISIONS_LUA.replace("REQUESTS", str(work / "requests.txt")).replace("KEY", key))
    (work / "bare.py").write_text(bench_ingest.BARE_APP)
    bare_port, api_port = free_port(), free_port()
    bare_env = {name: value for name, value in os.environ.items() if not name.startswith("CONSENTRY_")}
    bare = bench_ingest.gunicorn("bare:app", bare_port, bare_env, work, work / "bare.log")
    running.enter_context(bench_ingest._stopping(bare))
    api = bench_ingest.gunicorn("consentry.webhook_server.wsgi:app", api_port, env, work, work / "server.log")
    running.enter_context(bench_ingest._stopping(api))
    targets = {
        "bare": (f"http://127.0.0.1:{bare_port}/hook", [bare.pid]),
        "decision": (f"http://127.0.0.1:{api_port}/v1/decisions", [api.pid]),
    }
    bench_ingest.wait_up(f"http://127.0.0.1:{api_port}/healthz")
    bench_ingest.wait_up(targets["bare"][0])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    check = session.post(targets["decision"][0], json=singles[0], timeout=30)
    check.raise_for_status()
    for target, _ in targets.values():
        bench_ingest.wrk(target, script, 2, arguments.connections)  # warm-up, not counted
    rounds: dict[str, list[dict]] = {name: [] for name in targets}
    for number in range(1, arguments.rounds + 1):
        for name, (target, pids) in targets.items():
            figures = bench_ingest.wrk(target, script, arguments.duration, arguments.connections, pids)
            rounds[name].append(figures)
            say(
                f"round {number}  {name:<9}{figures['rps']:>8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
                f"p99 {figures['p99_ms']:6.1f} ms  non-2xx {figures['errors']}  "
                f"server CPU {figures['cpu_us']:,.0f} us/request"
            )
            if figures["errors"]:
                raise SystemExit(f"{name}: {figures['errors']} answers were not 2xx; see {work}")
    batch_url = f"http://127.0.0.1:{api_port}/v1/decisions/batch"
    timings = []
    for number in range(arguments.batches + 2):
        body = {"contacts": contacts(1000, arguments.people, arguments.suppressed, seed=100 + number)}
        started = time.perf_counter()
        response = session.post(batch_url, json=body, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        assert len(response.json()["decisions"]) == 1000
        if number >= 2:  # two warm-ups, not counted
            timings.append(elapsed)
    session.close()
    say(f"batch of 1,000: median {statistics.median(timings):.1f} ms, min {min(timings):.1f}, max {max(timings):.1f}")
    result = {
        "bare_rps": round(statistics.median(r["rps"] for r in rounds["bare"]), 1),
        "decision_rps": round(statistics.median(r["rps"] for r in rounds["decision"]), 1),
        "decision_p99_ms": round(statistics.median(r["p99_ms"] for r in rounds["decision"]), 2),
        "batch_median_ms": round(statistics.median(timings), 1),
    }
    share = result["decision_rps"] / result["bare_rps"]
    say(
        f"medians of {arguments.rounds} rounds: decisions {share:.0%} of bare (target >= 50%: "
        f"{'met' if share >= 0.5 else 'not met'}), p99 {result['decision_p99_ms']} ms (target < 20 ms: "
        f"{'met' if result['decision_p99_ms'] < 20 else 'not met'}); batch median {result['batch_median_ms']} ms "
        f"(target < 150 ms: {'met' if result['batch_median_ms'] < 150 else 'not met'}); "
        f"load now {os.getloadavg()[0]:.2f}"
    )
    return result


if __name__ == "__main__":
    main()
