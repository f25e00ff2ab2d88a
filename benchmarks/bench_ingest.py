"""Webhook ingestion through gunicorn, and propagation latency, on this machine's loopback.

    python benchmarks/bench_ingest.py [--duration 15] [--connections 16]

Needs `wrk` (Debian package). In one run: a bare Flask endpoint that does nothing (the ceiling), Mailchimp-style
single-event deliveries (each a new opt-out: ledger event, suppression entry and propagation jobs committed before
the 200), and HubSpot-style batches of 100 signed events. Then the propagation latency from receipt to applied in
every other sandbox at 50 opt-outs per second, with the embedded defaults (SQLite, SQLite queue, one worker).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parents[1]))

from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET as HUBSPOT_SECRET
from consentry.connectors.hubspot.webhooks import signature_v3
from consentry.webhook_server.stack import Stack, free_port

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


def mailchimp_load(stack: Stack, script: Path, arguments) -> dict:
    """Single-event deliveries, ingestion alone: the worker is stopped, so jobs are committed, not yet applied."""
    stack.kill_worker()
    token = stack.env["CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN"]
    url = f"{stack.server_url}/webhooks/mailchimp?token={token}"
    return wrk(url, script, arguments.duration, arguments.connections, server_pids(stack))


def server_pids(stack: Stack) -> list[int]:
    """The gunicorn master first, then the inbox writer when there is one."""
    return [stack.processes[name].pid for name in ("server", "inbox") if name in stack.processes]


def gunicorn(app: str, port: int, env: dict, cwd: Path) -> subprocess.Popen:
    """The same server settings as the Stack's (and `consentry serve`'s defaults)."""
    settings = ["--workers", str(Stack.gunicorn_workers), "--threads", str(Stack.gunicorn_threads)]
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *settings, app],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
                    "subscriptionType": "contact.privacyDeletion",
                    "attemptNumber": 0,
                    "objectId": batch * 100 + n,
                    "changeSource": "GDPR",
                }
                for n in range(100)
            ]
            body = json.dumps(events, separators=(",", ":"))
            stamp = str(int(time.time() * 1000))
            signature = signature_v3(HUBSPOT_SECRET.encode(), "POST", url, body.encode(), stamp)
            out.write(f"{signature} {stamp}\t{body}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=["ingestion", "latency"], help="run one of the two parts")
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    try:
        measure(arguments, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(arguments, work: Path) -> None:
    server = f"gunicorn {Stack.gunicorn_workers} workers x {Stack.gunicorn_threads} threads"
    print(f"machine: {os.cpu_count()} CPUs; {server}; SQLite in {work}")
    if arguments.only == "latency":
        latency(work / "latency", arguments.duration)
        return
    (work / "bare.py").write_text(BARE_APP)
    port = free_port()
    bare = gunicorn("bare:app", port, dict(os.environ), work)
    wait_up(f"http://127.0.0.1:{port}/hook")
    (work / "mailchimp.lua").write_text(MAILCHIMP_LUA)
    results = {
        "bare Flask endpoint": wrk(
            f"http://127.0.0.1:{port}/hook",
            work / "mailchimp.lua",
            arguments.duration,
            arguments.connections,
            [bare.pid],
        )
    }
    bare.terminate()
    bare.wait()
    before = work / "in-process"  # the design before the writer process, for comparison in the same run
    before.mkdir()
    with Stack(home=before, database_url=f"sqlite:///{before / 'consentry.db'}", writer_process=False) as old:
        results["Mailchimp, writer in each web process"] = mailchimp_load(old, work / "mailchimp.lua", arguments)
    with Stack(home=work, database_url=f"sqlite:///{work / 'consentry.db'}") as stack:
        results["Mailchimp single events"] = mailchimp_load(stack, work / "mailchimp.lua", arguments)
        hubspot_url = f"{stack.server_url}/webhooks/hubspot"
        batches = 2000
        seed_hubspot_contacts(stack.database_url, batches * 100)
        hubspot_requests(work / "hubspot.txt", hubspot_url, batches)
        (work / "hubspot.lua").write_text(FILE_LUA.replace("REQUESTS", str(work / "hubspot.txt")))
        results["HubSpot batches of 100"] = wrk(
            hubspot_url, work / "hubspot.lua", arguments.duration, arguments.connections, server_pids(stack)
        )
        engine = create_engine(stack.database_url)
        with engine.connect() as connection:
            recorded = connection.execute(
                text("SELECT count(*) FROM consent_events WHERE source_system = 'hubspot'")
            ).scalar()
        engine.dispose()
        print(f"HubSpot events recorded: {recorded} ({recorded / arguments.duration:.0f} per second)")
    ceiling = results["bare Flask endpoint"]["rps"]
    for name, figures in results.items():
        print(
            f"{name:<38}{figures['rps']:>9.0f} req/s ({figures['rps'] / ceiling:4.0%} of bare)  "
            f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms  non-2xx {figures['errors']}  "
            f"server CPU {figures['cpu_us']:,.0f} us/request"
        )
    if arguments.only != "ingestion":
        latency(work / "latency", arguments.duration)


def latency(home: Path, seconds: int, rate: int = 50) -> None:
    """Opt-outs made in Mailchimp at `rate` per second; receipt-to-applied per job, from the job table."""
    home.mkdir()
    with Stack(home=home, database_url=f"sqlite:///{home / 'consentry.db'}") as stack:
        emails = [f"rate{n}@example.com" for n in range(rate * seconds)]
        for chunk in range(0, len(emails), 500):
            for email in emails[chunk : chunk + 500]:
                stack.seed_person(email)
        start = time.monotonic()
        for number, email in enumerate(emails):
            time.sleep(max(0.0, start + number / rate - time.monotonic()))
            stack.unsubscribe_in("mailchimp", email)
        deadline = time.monotonic() + 60
        engine = create_engine(stack.database_url)
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


if __name__ == "__main__":
    main()
