"""Webhook ingestion through gunicorn, and propagation latency, on this machine's loopback.

    python benchmarks/bench_ingest.py --json      # the ingestion comparison only, about 2 minutes
    python benchmarks/bench_ingest.py [--duration 10] [--rounds 3] [--connections 16] [--only ingestion|latency]

Needs `wrk` (Debian package). The ingestion comparison starts, under the same gunicorn settings (the Stack's:
2 workers x 16 threads), a bare Flask endpoint that does nothing (the ceiling), the durable floor (durable_floor.py:
the thinnest inbox that commits each Mailchimp delivery's event and jobs, with an fsync, before its 200) and the
real Consentry server (ledger event, suppression entry and propagation jobs committed before the 200, through the
inbox writer process), plus, in a full run or with --in-process, the real server with a commit group in each
gunicorn process instead of the writer process. Then it sends each the same Mailchimp single-event deliveries in
alternating rounds, so that the machine's swings touch them alike. `--json` prints the medians over the rounds,
{"floor_rps", "route_rps", "route_p99_ms", "bare_rps"}, as one line on stdout (the rounds go to stderr); the
target of issue 20 is route_rps >= 0.8 x floor_rps with route_p99_ms < 50.

A full run adds HubSpot-style batches of 100 signed events, then the propagation latency from receipt to applied in
every other sandbox at 50 opt-outs per second, with the embedded defaults (SQLite, one worker; PostgreSQL with
--postgres URL).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import durable_floor  # beside this script, which puts its folder on sys.path
import requests
from sqlalchemy import create_engine, text

from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET as HUBSPOT_SECRET
from consentry.connectors.hubspot.webhooks import signature_v3
from consentry.connectors.mailchimp.sandbox import DEFAULT_LIST_ID as MAILCHIMP_LIST_ID
from consentry.sdk.store import make_engine, metadata
from consentry.webhook_server.stack import Stack, free_port

HERE = Path(__file__).resolve().parent

BARE_APP = "from flask import Flask\napp = Flask(__name__)\n@app.post('/hook')\ndef hook():\n    return ''\n"
MAILCHIMP_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local id = string.format("%d-%d", os.time(), counter) .. math.random(1, 1000000000)
  local body = "type=unsubscribe&fired_at=2026-11-23+10%3A00%3A00&data%5Blist_id%5D=a1b2c3d4e5&data%5Bid%5D=" .. id
    .. "&data%5Bemail%5D=load" .. id .. "%40example.com"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""
FILE_LUA = """
local bodies, headers, index = {}, {}, 0
for line in io.lines("REQUESTS") do
  local sep = string.find(line, "\\t")
  table.insert(headers, string.sub(line, 1, sep - 1))
  table.insert(bodies, string.sub(line, sep + 1))
end
request = function()
  index = index % #bodies + 1
  local signature, stamp = string.match(headers[index], "([^ ]+) ([^ ]+)")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-HubSpot-Signature-v3"] = signature,
    ["X-HubSpot-Request-Timestamp"] = stamp}, bodies[index])
end
"""


def wrk(url: str, script: Path, duration: int, connections: int, server: list[int] | None = None) -> dict:
    """Throughput and latency; given the gunicorn master's pid (and the inbox writer's), also the CPU the server's
    processes spent per request."""
    before = _server_cpu(server)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {q: re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)", output) for q in ("50", "99")}
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "cpu_us": (_server_cpu(server) - before) / max(requests_done, 1) * 1e6 if server else None,
        "rps": rate,
        "p50_ms": float(latency["50"].group(1)) * scale[latency["50"].group(2)],
        "p99_ms": float(latency["99"].group(1)) * scale[latency["99"].group(2)],
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def _server_cpu(server: list[int] | None) -> float:
    """User and system CPU seconds so far of the gunicorn master's workers and the other processes given."""
    if not server:
        return 0.0
    master, *others = server
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in [*children, *others]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(stack: Stack) -> list[int]:
    """The gunicorn master first, then the inbox writer when there is one."""
    return [stack.processes[name].pid for name in ("server", "inbox") if name in stack.processes]


def gunicorn(app: str, port: int, env: dict, cwd: Path, log_path: Path) -> subprocess.Popen:
    """The same server settings as the Stack's and `consentry serve`'s: its worker and thread counts, and its
    gunicorn configuration (one redacted access line per request, written to a log file as the Stack does)."""
    settings = ["--workers", str(Stack.gunicorn_workers), "--threads", str(Stack.gunicorn_threads)]
    settings += ["--config", "python:consentry.webhook_server.gunicorn_settings"]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *settings, app],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_up(url: str) -> None:
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)


def seed_hubspot_contacts(database_url: str, count: int) -> None:
    """HubSpot deliveries carry contact ids: the contacts must be known (synced before) for their events to count."""
    from datetime import UTC, datetime

    from consentry.sdk.store import contacts, persons

    engine = create_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(persons.insert(), [{"email": f"hs{n}@example.com", "created_at": now} for n in range(count)])
        ids = dict(connection.execute(text("SELECT email, id FROM persons WHERE email LIKE 'hs%'")).all())
        rows = [
            {
                "person_id": ids[f"hs{n}@example.com"],
                "source_system": "hubspot",
                "source_record_id": str(n),
                "is_customer": False,
                "updated_at": now,
            }
            for n in range(count)
        ]
        connection.execute(contacts.insert(), rows)
    engine.dispose()


def hubspot_requests(path: Path, url: str, count: int) -> None:
    with path.open("w") as out:
        for batch in range(count):
            events = [
                {
                    "eventId": n,
                    "subscriptionId": 1,
                    "portalId": 62515,
                    "appId": 54321,
                    "occurredAt": 1_795_000_000_000 + batch * 100 + n,
                    "subscriptionType": "contact.propertyChange",  # an opt-out (a privacy deletion is an erasure)
                    "attemptNumber": 0,
                    "objectId": batch * 100 + n,
                    "propertyName": "hs_email_optout",
                    "propertyValue": "true",
                    "changeSource": "CRM_UI",
                }
                for n in range(100)
            ]
            body = json.dumps(events, separators=(",", ":"))
            stamp = str(int(time.time() * 1000))
            signature = signature_v3(HUBSPOT_SECRET.encode(), "POST", url, body.encode(), stamp)
            out.write(f"{signature} {stamp}\t{body}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the ingestion comparison (default 3)")
    parser.add_argument("--only", choices=["ingestion", "latency"], help="run one of the two parts")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="with --json, also measure the route with a commit group in each gunicorn process (no writer process)",
    )
    parser.add_argument(
        "--floor",
        choices=["group", "each"],
        default="group",
        help="the floor's commits: one per group of deliveries that arrive together (default), or one per delivery",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the latency part on this PostgreSQL database (its tables are dropped), not a SQLite file",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="the ingestion comparison only; its medians as one JSON line on stdout, the rest on stderr",
    )
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    try:
        measure(arguments, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def say(arguments, line: str) -> None:
    print(line, file=sys.stderr if arguments.json else sys.stdout, flush=True)


def measure(arguments, work: Path) -> None:
    server = f"gunicorn {Stack.gunicorn_workers} workers x {Stack.gunicorn_threads} threads"
    say(arguments, f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {server}; SQLite in {work}")
    if arguments.only == "latency":
        latency(work / "latency", arguments.duration, postgres=arguments.postgres)
        return
    with ExitStack() as running:
        stack, medians = compare(arguments, work, running)
        if arguments.json:
            print(json.dumps(medians))
            return
        hubspot(arguments, work, stack)
    if arguments.only != "ingestion":
        latency(work / "latency", arguments.duration, postgres=arguments.postgres)


def compare(arguments, work: Path, running: ExitStack) -> tuple[Stack, dict]:
    """The bare endpoint, the durable floor and the real route (and, unless --json alone, the route with a commit
    group in each web process), all started first, then measured in alternating rounds: the machine's swings
    touch each of them alike. Returns the running Stack and the medians over the rounds."""
    (work / "mailchimp.lua").write_text(MAILCHIMP_LUA)
    (work / "bare.py").write_text(BARE_APP)
    bare_port = free_port()
    bare = running.enter_context(_stopping(gunicorn("bare:app", bare_port, dict(os.environ), work, work / "bare.log")))
    route_home = work / "route"
    route_home.mkdir()
    stack = running.enter_context(Stack(home=route_home, database_url=f"sqlite:///{route_home / 'consentry.db'}"))
    stack.kill_worker()  # ingestion alone: jobs are committed, not applied
    token = stack.env["CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN"]
    floor_env = dict(os.environ)
    floor_env.update(
        FLOOR_DATABASE=str(work / "floor.db"),
        FLOOR_TOKEN=token,
        FLOOR_LIST_ID=MAILCHIMP_LIST_ID,
        FLOOR_TARGETS=",".join(name for name in stack.sandboxes if name != "mailchimp"),
        FLOOR_COMMIT=arguments.floor,
    )
    durable_floor.create_schema(floor_env["FLOOR_DATABASE"])
    floor_port = free_port()
    floor_server = gunicorn("durable_floor:app", floor_port, floor_env, HERE, work / "floor.log")
    floor = running.enter_context(_stopping(floor_server))
    targets = {
        "bare": (f"http://127.0.0.1:{bare_port}/hook", [bare.pid]),
        "floor": (f"http://127.0.0.1:{floor_port}/webhooks/mailchimp?token={token}", [floor.pid]),
        "route": (f"{stack.server_url}/webhooks/mailchimp?token={token}", server_pids(stack)),
    }
    if arguments.in_process or not arguments.json:
        home = work / "in-process"
        home.mkdir()
        old = running.enter_context(
            Stack(home=home, database_url=f"sqlite:///{home / 'consentry.db'}", writer_process=False)
        )
        old.kill_worker()
        old_token = old.env["CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN"]
        targets["in-process"] = (f"{old.server_url}/webhooks/mailchimp?token={old_token}", server_pids(old))
    for url, _ in targets.values():
        wait_up(url)
        wrk(url, work / "mailchimp.lua", 1, arguments.connections)  # warm-up, not counted
    names = {
        "bare": "bare Flask endpoint",
        "floor": "durable floor (event + jobs, fsync)",
        "route": "Mailchimp route, inbox writer process",
        "in-process": "Mailchimp route, commit group per process",
    }
    rounds: dict[str, list[dict]] = {name: [] for name in targets}
    for number in range(1, arguments.rounds + 1):
        for name, (url, pids) in targets.items():
            figures = wrk(url, work / "mailchimp.lua", arguments.duration, arguments.connections, pids)
            rounds[name].append(figures)
            share = figures["rps"] / rounds["bare"][-1]["rps"]
            versus = (
                f"  {figures['rps'] / rounds['floor'][-1]['rps']:.2f}x floor" if name not in ("bare", "floor") else ""
            )
            say(
                arguments,
                f"round {number}  {names[name]:<42}{figures['rps']:>8.0f} req/s ({share:4.0%} of bare){versus}  "
                f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms  non-2xx {figures['errors']}  "
                f"server CPU {figures['cpu_us']:,.0f} us/request",
            )
    medians = {
        "floor_rps": round(statistics.median(r["rps"] for r in rounds["floor"]), 1),
        "route_rps": round(statistics.median(r["rps"] for r in rounds["route"]), 1),
        "route_p99_ms": round(statistics.median(r["p99_ms"] for r in rounds["route"]), 2),
        "bare_rps": round(statistics.median(r["rps"] for r in rounds["bare"]), 1),
    }
    ratio = medians["route_rps"] / medians["floor_rps"]
    met = ratio >= 0.8 and medians["route_p99_ms"] < 50
    say(
        arguments,
        f"medians of {arguments.rounds} rounds: route {ratio:.2f}x the floor, p99 {medians['route_p99_ms']} ms; "
        f"target (>= 0.8x the floor, p99 < 50 ms) {'met' if met else 'not met'}; load now {os.getloadavg()[0]:.2f}",
    )
    if "in-process" in rounds:
        old_rps = statistics.median(r["rps"] for r in rounds["in-process"])
        say(
            arguments, f"commit group per process: {old_rps:.0f} req/s, {old_rps / medians['floor_rps']:.2f}x the floor"
        )
    return stack, medians


@contextmanager
def _stopping(process: subprocess.Popen):
    """A gunicorn started here: its master stopped (it stops its workers) and waited for at the end."""
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def hubspot(arguments, work: Path, stack: Stack) -> None:
    """HubSpot batches of 100 signed events, on the route's Stack."""
    hubspot_url = f"{stack.server_url}/webhooks/hubspot"
    batches = 2000
    seed_hubspot_contacts(stack.database_url, batches * 100)
    hubspot_requests(work / "hubspot.txt", hubspot_url, batches)
    (work / "hubspot.lua").write_text(FILE_LUA.replace("REQUESTS", str(work / "hubspot.txt")))
    figures = wrk(hubspot_url, work / "hubspot.lua", arguments.duration, arguments.connections, server_pids(stack))
    engine = create_engine(stack.database_url)
    with engine.connect() as connection:
        recorded = connection.execute(
            text("SELECT count(*) FROM consent_events WHERE source_system = 'hubspot'")
        ).scalar()
    engine.dispose()
    print(
        f"HubSpot batches of 100: {figures['rps']:.0f} req/s ({recorded / arguments.duration:.0f} events recorded "
        f"per second)  p50 {figures['p50_ms']:.1f} ms  p99 {figures['p99_ms']:.1f} ms  non-2xx {figures['errors']}  "
        f"server CPU {figures['cpu_us']:,.0f} us/request"
    )


def latency(home: Path, seconds: int, rate: int = 50, postgres: str | None = None) -> None:
    """Opt-outs made in Mailchimp at `rate` per second; receipt-to-applied per job, from the job table."""
    home.mkdir()
    database_url = f"sqlite:///{home / 'consentry.db'}"
    if postgres:
        database_url = empty_postgres(postgres)
    with Stack(home=home, database_url=database_url) as stack:
        emails = [f"rate{n}@example.com" for n in range(rate * seconds)]
        for chunk in range(0, len(emails), 500):
            for email in emails[chunk : chunk + 500]:
                stack.seed_person(email)
        start = time.monotonic()
        for number, email in enumerate(emails):
            time.sleep(max(0.0, start + number / rate - time.monotonic()))
            stack.unsubscribe_in("mailchimp", email)
        deadline = time.monotonic() + 60
        engine = make_engine(stack.database_url)
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                done = connection.execute(text("SELECT count(*) FROM propagation_jobs WHERE status='done'")).scalar()
            if done >= 2 * len(emails):
                break
            time.sleep(0.5)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT target_system, attempts, received_at, done_at FROM propagation_jobs WHERE status='done'")
            ).all()
        engine.dispose()
    delays: dict[str, list[float]] = {}
    retried = 0
    for target, attempts, received, done in rows:
        delay = (datetime.fromisoformat(str(done)) - datetime.fromisoformat(str(received))).total_seconds()
        delays.setdefault(target, []).append(delay)
        delays.setdefault("every system", []).append(delay)
        retried += attempts > 1
    for name, values in sorted(delays.items()):
        values.sort()
        p50, p99 = values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]
        print(
            f"propagation at {rate}/s for {seconds} s, to {name}: {len(values)} jobs applied, "
            f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {values[-1]:.2f} s"
        )
    print(f"jobs applied after a retry: {retried}")


def empty_postgres(url: str) -> str:
    """The database at `url` without Consentry's tables, for `Stack` to create them afresh."""
    engine = make_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


if __name__ == "__main__":
    main()
