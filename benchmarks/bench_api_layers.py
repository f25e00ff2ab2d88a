"""Where a single API decision's CPU goes, layer by layer, in one process (no HTTP server, no wrk): issue 22.

    python benchmarks/bench_api_layers.py [--people 10000] [--suppressed 100000] [--requests 2000] [--rounds 2]

Builds the same SQLite database as bench_api.py (smaller by default), then measures the process's CPU time per
request through Flask's test client for: a bare Flask endpoint that parses the JSON body and answers a small
JSON object; the real `/v1/decisions` with its decision replaced by a fixed answer (key, rate limit, webargs and
marshmallow loading, flask-smorest and marshmallow dumping, metrics: the framework the API is built on); the real
`/v1/decisions`; and, without any request, the decision alone (what Consentry knows read from the database, then
the rules). Alternating rounds, the same contacts in each. CPU time, not wall time, so that another process's
load moves each figure less than it moves their wall times.
"""

import argparse
import gc
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bench_api  # beside this script, which puts its folder on sys.path
from flask import Flask, jsonify, request

from consentry.sdk.settings import load_settings
from consentry.sdk.store import make_engine
from consentry.sdk.suppression import Keyring
from consentry.webhook_server.api import decisions
from consentry.webhook_server.api.schemas import DecisionRequestSchema
from consentry.webhook_server.api.store import create_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--suppressed", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per layer and round")
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="consentry-bench-layers-"))
    saved = {key: value for key, value in os.environ.items() if key.startswith("CONSENTRY_")}
    try:
        measure(arguments, work)
    finally:
        for key in [key for key in os.environ if key.startswith("CONSENTRY_")]:
            del os.environ[key]
        os.environ.update(saved)
        shutil.rmtree(work, ignore_errors=True)


def measure(arguments, work: Path) -> None:
    url = f"sqlite:///{work / 'consentry.db'}"
    env = {
        "CONSENTRY_HOME": str(work),
        "CONSENTRY_DATABASE_URL": url,
        "CONSENTRY_SUPPRESSION_PEPPER": secrets.token_urlsafe(32),
        "CONSENTRY_UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32),
        "CONSENTRY_ADVERTISER": bench_api.ADVERTISER,
        "CONSENTRY_API_RATE_LIMIT": "100000000/minute",
    }
    for key in [key for key in os.environ if key.startswith("CONSENTRY_")]:
        del os.environ[key]
    os.environ.update(env)
    bench_api.build(url, Keyring.from_settings(load_settings(env)), arguments.people, arguments.suppressed, print)
    engine = make_engine(url)
    key = create_key(engine, "layers", ["decide"])
    engine.dispose()

    from consentry.webhook_server.app import create_app

    app = create_app()
    gc.freeze()  # as wsgi.py does under gunicorn: what the process built at start is not scanned again
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    contacts = bench_api.contacts(2000, arguments.people, arguments.suppressed, seed=1)
    runtime = app.extensions["consentry"].runtime
    queries = [DecisionRequestSchema().load(contact) for contact in contacts]
    real = decisions.decide
    fixed = real(runtime, queries[:1])

    bare = Flask("bare")

    @bare.post("/hook")
    def hook():
        request.get_json()
        return jsonify({"ok": True})

    bare_client = bare.test_client()

    def api(number: int) -> None:
        answer = client.post("/v1/decisions", json=contacts[number % len(contacts)], headers=headers)
        assert answer.status_code == 200, answer.data

    def stubbed(number: int) -> None:
        decisions.decide = lambda _runtime, _queries: fixed
        try:
            api(number)
        finally:
            decisions.decide = real

    layers: dict[str, Callable[[int], object]] = {
        "bare Flask endpoint": lambda n: bare_client.post("/hook", json=contacts[n % len(contacts)]),
        "API, decision stubbed": stubbed,
        "API, real decision": api,
        "decision alone (reads + rules)": lambda n: real(runtime, [queries[n % len(queries)]]),
        "reads alone": lambda n: decisions._known(runtime, [queries[n % len(queries)]]),
    }
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}")
    for number in range(1, arguments.rounds + 1):
        for name, layer in layers.items():
            for warm in range(200):
                layer(warm)
            started = time.process_time()
            for each in range(arguments.requests):
                layer(each)
            cpu = (time.process_time() - started) / arguments.requests * 1e6
            print(f"round {number}  {name:<32}{cpu:>8,.0f} us CPU per request")
    runtime.close()


if __name__ == "__main__":
    main()
