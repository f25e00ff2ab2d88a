"""Server-side commands: `serve`, `worker`, `propagation failed|retry`, `api-key create|list|revoke`, and `rights`
(rights_cli.py), registered through entry points."""

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from consentry.sdk.cli_store import uses_database


def register(commands) -> None:
    serve = commands.add_parser("serve", help="run the webhook server under gunicorn")
    uses_database(serve, waits=True)
    serve.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT to listen on (default: 127.0.0.1:8000)")
    serve.add_argument("--workers", type=int, default=2, help="processes (one per core)")
    serve.add_argument(
        "--threads", type=int, default=16, help="threads per process: deliveries that arrive together share a commit"
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="apply opt-outs to every system, from the job table")
    uses_database(worker, waits=True)
    worker.add_argument("--threads", type=int, default=4, help="systems drained at once")
    worker.set_defaults(handler=_worker)

    sync = commands.add_parser("sync", help="read every CRM, decide, tag, and push opt-outs everywhere")
    uses_database(sync)
    sync.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    sync.add_argument("--full", action="store_true", help="read everything, not only what changed since last run")
    sync.set_defaults(handler=_sync, tags=True)
    reconcile = commands.add_parser("reconcile", help="compare opt-outs across systems and repair drift")
    uses_database(reconcile)
    reconcile.add_argument("--dry-run", action="store_true", help="show the drift, repair nothing")
    reconcile.set_defaults(handler=_sync, full=True, tags=False)

    demo = commands.add_parser("demo", help="the whole product on 127.0.0.1: sandboxes, server, worker, sync, report")
    demo.add_argument("--people", type=int, default=3000, help="how many people to seed (default: 3000)")
    demo.add_argument("--home", type=Path, help="where to keep the demo's database, logs and report")
    demo.set_defaults(handler=_demo)
    report = commands.add_parser("report", help="write the HTML and CSV compliance report")
    uses_database(report)
    report.add_argument(
        "--output", type=Path, default=Path("."), help="folder to write report.html and report.csv into (default: .)"
    )
    report.set_defaults(handler=_report)

    propagation = commands.add_parser("propagation", help="propagation jobs that ran out of retries")
    uses_database(propagation)
    actions = propagation.add_subparsers(metavar="ACTION", required=True)
    actions.add_parser("failed", help="list dead jobs").set_defaults(handler=_failed)
    actions.add_parser("retry", help="replay every dead job").set_defaults(handler=_retry)

    api_key = commands.add_parser("api-key", help="keys of the /v1 API: shown once, stored hashed, scoped")
    uses_database(api_key)
    key_actions = api_key.add_subparsers(metavar="ACTION", required=True)
    create = key_actions.add_parser("create", help="make a key; its last line of output is the key alone")
    create.add_argument("name", help="the key's name, e.g. the tool that uses it")
    create.add_argument("--scopes", required=True, help="comma-separated: decide,record,calls,read_proof,rights")
    create.set_defaults(handler=_api_key_create)
    key_actions.add_parser("list", help="every key: name, scopes, created, revoked").set_defaults(handler=_api_key_list)
    revoke = key_actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("name", help="the name of the key to revoke")
    revoke.set_defaults(handler=_api_key_revoke)

    from .rights_cli import register as register_rights

    register_rights(commands)

    from .console.users_cli import register as register_users

    register_users(commands)
    for name in ("rights", "users"):
        uses_database(commands.choices[name])


def _serve(arguments) -> int:
    from .runtime import build_runtime

    runtime = build_runtime()  # refuse to start here, with a clear message, rather than in every gunicorn worker
    on_sqlite = runtime.services.engine.dialect.name == "sqlite"
    runtime.close()
    server = [sys.executable, "-m", "gunicorn", "--config", "python:consentry.webhook_server.gunicorn_settings"]
    server += ["--bind", arguments.bind, "--workers", str(arguments.workers), "--threads", str(arguments.threads)]
    server += ["consentry.webhook_server.wsgi:app"]
    from .inbox_writer import start_writer, writer_settings
    from .metrics import shared_counters

    counters, directory = shared_counters(os.environ)
    env = {**os.environ, **counters}
    try:
        if not on_sqlite:  # PostgreSQL takes concurrent writers: each gunicorn process commits its own deliveries
            return _supervise([subprocess.Popen(server, env=env)])
        with writer_settings() as inbox:
            env |= inbox
            return _supervise([start_writer(env), subprocess.Popen(server, env=env)])
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _supervise(processes: list) -> int:
    """Run until one process stops, or until told to stop; then stop the others. A supervisor (systemd, a
    container runtime) restarts the whole, as a web server without its writer must not answer."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5) and all(process.poll() is None for process in processes):
        pass
    for process in processes:
        if process.poll() is None:
            process.terminate()
    codes = [process.wait() for process in processes]
    return 0 if stop.is_set() else next((code for code in codes if code), 1)


def _worker(arguments) -> int:
    import logging

    from .propagation import bound_vendor_calls
    from .runtime import build_runtime
    from .worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    runtime = build_runtime(receives_webhooks=False)  # refuse to start here when misconfigured
    bound_vendor_calls(runtime.connectors)  # a trickling vendor cannot hold a drain thread for ever
    worker = Worker(runtime, threads=arguments.threads)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop.set())
    try:
        worker.run()  # returns once told to stop and the batches under way are finished
    finally:
        runtime.close()
    return 0


def _demo(arguments) -> int:
    from .demo import run_demo

    return run_demo(people=arguments.people, home=arguments.home)


def _report(arguments) -> int:
    from .report import gather, write
    from .runtime import build_runtime

    runtime = build_runtime(receives_webhooks=False)
    try:
        figures = gather(runtime.services.engine, runtime.services.ledger, advertiser=runtime.advertiser)
        paths = write(figures, arguments.output)
    finally:
        runtime.close()
    print("\n".join(str(path) for path in paths))
    return 0


def _sync(arguments) -> int:
    from tqdm import tqdm

    from .runtime import build_runtime
    from .sync import run_sync

    runtime = build_runtime(receives_webhooks=False)
    bar = tqdm(unit=" contacts", file=sys.stderr) if sys.stderr.isatty() else None
    try:
        summary = run_sync(runtime, dry_run=arguments.dry_run, full=arguments.full, tags=arguments.tags, progress=bar)
    finally:
        if bar is not None:
            bar.close()
        runtime.close()
    print("\n".join(summary.lines()))
    return 0


def _failed(_arguments) -> int:
    import json

    from consentry.sdk.services import open_services

    from .propagation import dead_jobs

    services = open_services()
    try:
        for job in dead_jobs(services.engine):
            print(json.dumps({key: str(value) if value is not None else None for key, value in job.items()}))
    finally:
        services.close()
    return 0


def _retry(_arguments) -> int:
    from consentry.sdk.services import open_services

    from .propagation import retry_dead

    services = open_services()
    try:
        count = retry_dead(services.engine)  # the workers hear of them at its commit, or find them at their next look
    finally:
        services.close()
    print(f"{count} dead jobs queued again", file=sys.stderr)
    return 0


def _api_engine():
    """The database alone: key commands need neither the suppression pepper nor the connectors."""
    from consentry.sdk.settings import load_settings
    from consentry.sdk.store import make_engine

    return make_engine(load_settings().database_url)


def _api_key_create(arguments) -> int:
    from .api.store import create_key

    engine = _api_engine()
    try:
        raw = create_key(engine, arguments.name, arguments.scopes)
    finally:
        engine.dispose()
    # Printed once and never logged: the database keeps only its digest.
    print(f"API key {arguments.name.strip()} created; copy it now, it is not shown again:")
    print(raw)
    return 0


def _api_key_list(_arguments) -> int:
    from .api.store import list_keys

    engine = _api_engine()
    try:
        keys = list_keys(engine)
    finally:
        engine.dispose()
    for key in keys:
        revoked = key["revoked_at"].isoformat(timespec="seconds") if key["revoked_at"] else "-"
        created = key["created_at"].isoformat(timespec="seconds")
        print(f"{key['name']}\t{','.join(key['scopes'])}\tcreated {created}\trevoked {revoked}")
    return 0


def _api_key_revoke(arguments) -> int:
    from .api.store import revoke_key

    engine = _api_engine()
    try:
        revoked = revoke_key(engine, arguments.name)
    finally:
        engine.dispose()
    if not revoked:
        print(f"consentry: no key in use is named {arguments.name}", file=sys.stderr)
        return 1
    print(f"API key {arguments.name} revoked", file=sys.stderr)
    return 0
