"""The durable floor of webhook ingestion: the thinnest inbox that keeps the promise "flushed before the 2xx".

A bare WSGI application (no Flask, no Consentry) for `bench_ingest.py`, served by gunicorn with the real route's
settings. Each Mailchimp delivery: check the URL token, parse the form, check the audience, then insert the event
(once per event key) and one job per other system in one SQLite transaction, in WAL mode with `synchronous=FULL`
(the WAL is fsynced at each commit), and only then answer 200. No person, ledger, suppression entry or echo
check: what the real route does beyond this is its own cost, and this application's requests per second are the
ceiling of any design that commits each delivery before answering.

Settings come from the environment (the bench sets them): FLOOR_DATABASE (a file made by `create_schema`),
FLOOR_TOKEN, FLOOR_LIST_ID and FLOOR_TARGETS (the other systems, comma-separated).
"""

import fcntl
import hmac
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qsl

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, event_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, email TEXT,
    source_system TEXT NOT NULL, occurred_at TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, event_key TEXT NOT NULL, target_system TEXT NOT NULL, status TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, next_attempt_at);
"""
KINDS = {"unsubscribe": "withdrawn", "cleaned": "withdrawn", "subscribe": "granted"}


def create_schema(path: str) -> None:
    """Run once before the server starts: the tables, and WAL mode (which stays with the file)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    connection.close()


def _connect() -> sqlite3.Connection:
    connection = sqlite3.connect(os.environ["FLOOR_DATABASE"], isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA synchronous=FULL")  # in WAL mode: an fsync of the WAL at every commit
    connection.execute("PRAGMA busy_timeout=5000")  # the other gunicorn process may hold the write lock
    return connection


_local = threading.local()
_write = threading.Lock()  # one transaction at a time in this process...
_token = os.environ.get("FLOOR_TOKEN", "").encode()
_list_id = os.environ.get("FLOOR_LIST_ID", "")
_targets = [name for name in os.environ.get("FLOOR_TARGETS", "").split(",") if name]
_group = os.environ.get("FLOOR_COMMIT", "group") == "group"
_pending: list[list] = []  # [form, received at, state]: deliveries waiting for the next commit of this process
_pending_lock = threading.Lock()


@contextmanager
def _file_lock():
    """...and across processes: a blocking flock wakes the next writer at once, where SQLite's busy handler would
    sleep and poll (that alone put the p99 near a second)."""
    with open(os.environ["FLOOR_DATABASE"] + ".lock", "wb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def record(connection: sqlite3.Connection, form: dict[str, str]) -> None:
    """The event and its jobs, committed (and fsynced) before this returns; a replayed event adds nothing.

    FLOOR_COMMIT=group (the default): the deliveries that arrive while a commit is under way share the next one
    (whichever request thread takes the lock commits them all, no extra thread). FLOOR_COMMIT=each: one
    transaction, so one fsync, per delivery."""
    item = [form, datetime.now(UTC).isoformat(), None]
    if not _group:
        with _write:
            _commit(connection, [item])
        return
    with _pending_lock:
        _pending.append(item)
    with _write:
        if item[2] is None:  # not committed by the thread before: commit every delivery waiting
            with _pending_lock:
                batch = _pending[:]
                _pending.clear()
            try:
                _commit(connection, batch)
                state = "committed"
            except BaseException:
                state = "failed"
                raise
            finally:
                for waiting in batch:
                    waiting[2] = state
    if item[2] != "committed":
        raise RuntimeError("the commit of this delivery's group failed")


def _commit(connection: sqlite3.Connection, batch: list[list]) -> None:
    with _file_lock():
        connection.execute("BEGIN IMMEDIATE")
        try:
            for form, now, _ in batch:
                key = f"mailchimp:{form['data[list_id]']}:{form['type']}:{form.get('data[id]', '')}:{form['fired_at']}"
                added = connection.execute(
                    "INSERT INTO events (event_key, kind, email, source_system, occurred_at, received_at)"
                    " VALUES (?, ?, ?, 'mailchimp', ?, ?) ON CONFLICT (event_key) DO NOTHING",
                    (key, KINDS[form["type"]], form.get("data[email]"), form["fired_at"], now),
                ).rowcount
                if added:
                    connection.executemany(
                        "INSERT INTO jobs (event_key, target_system, status, next_attempt_at, received_at)"
                        " VALUES (?, ?, 'pending', ?, ?)",
                        [(key, target, now, now) for target in _targets],
                    )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def app(environ, start_response):
    def answer(status: str) -> list[bytes]:
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return []

    if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/webhooks/mailchimp":
        return answer("404 Not Found")
    token = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("token", "")
    if not _token or not hmac.compare_digest(token.encode(), _token):
        return answer("403 Forbidden")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    form = dict(parse_qsl(environ["wsgi.input"].read(length).decode(), keep_blank_values=True))
    if form.get("data[list_id]") != _list_id or "fired_at" not in form:
        return answer("400 Bad Request")
    if form.get("type") in KINDS:
        connection = getattr(_local, "connection", None)
        if connection is None:
            connection = _local.connection = _connect()
        record(connection, form)
    return answer("200 OK")
