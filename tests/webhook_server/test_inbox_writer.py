"""The inbox writer process: the gunicorn workers' deliveries committed by one process over a Unix socket, and
nothing acknowledged that it did not commit."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consentry.sdk.store import consent_events, make_engine, upgrade
from consentry.webhook_server import create_app
from consentry.webhook_server.inbox import Delivery, commit_group
from consentry.webhook_server.inbox_writer import InboxUnavailable, RemoteInbox, serve, start_writer, writer_settings

from .test_group_commit import count, opt_out
from .test_inbox import PEPPER, _relays, app, deliver, optout, relay_config  # noqa: F401 - fixtures

KEY = b"k" * 32


@pytest.fixture
def address(tmp_path):
    return str(tmp_path / "inbox.sock")


@pytest.fixture
def start_in_thread():
    """Starts the writer loop in a thread; stops it after the test, so that its socket does not outlive the test."""
    started = []

    def start(runtime, address, group=None) -> None:
        ready, stop = threading.Event(), threading.Event()
        arguments = (group or commit_group(runtime), address, KEY, ready, stop)
        thread = threading.Thread(target=serve, args=arguments, name="inbox-loop", daemon=True)
        thread.start()
        started.append((stop, thread))
        assert ready.wait(10)

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=10)


def test_deliveries_from_many_threads_are_committed_once_each(app, address, start_in_thread):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    start_in_thread(runtime, address)
    inbox = RemoteInbox(address, KEY)
    deliveries = [Delivery([opt_out(f"k{n % 20}", f"p{n % 20}@example.com")], ["beta"]) for n in range(40)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(inbox.submit, deliveries))
    assert sum(d.result.new_events for d in deliveries) == 20
    assert sum(d.result.duplicates for d in deliveries) == 20
    assert sum(len(d.result.job_ids) for d in deliveries) == 20
    assert count(runtime.services.engine, consent_events) == 20


def test_what_arrives_during_a_commit_shares_the_next_one_recorded_in_the_loop_itself(app, address, start_in_thread):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    engine = runtime.services.engine
    group, gate, recorded_in = commit_group(runtime), threading.Event(), []
    original = group._record

    def held_then_recorded(deliveries):
        recorded_in.append((threading.current_thread().name, len(deliveries)))
        gate.wait(5)  # the first group holds the loop while the others arrive
        original(deliveries)

    group._record = held_then_recorded
    start_in_thread(runtime, address, group)
    inbox = RemoteInbox(address, KEY)
    deliveries = [Delivery([opt_out(f"k{n}", f"p{n}@example.com")], ["beta"]) for n in range(30)]
    with ThreadPoolExecutor(max_workers=30) as pool:
        futures = [pool.submit(inbox.submit, delivery) for delivery in deliveries]
        time.sleep(0.3)
        assert count(engine, consent_events) == 0
        assert not any(future.done() for future in futures)
        gate.set()
        for future in futures:
            future.result(timeout=10)
    assert all(delivery.result.new_events == 1 for delivery in deliveries)
    assert count(engine, consent_events) == 30
    assert {thread for thread, _ in recorded_in} == {"inbox-loop"}  # no hand-off to another thread
    assert len(recorded_in) < 30 / 2  # most deliveries shared a transaction


def test_a_delivery_that_fails_over_the_socket_fails_alone(app, address, start_in_thread):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    start_in_thread(runtime, address)
    inbox = RemoteInbox(address, KEY)
    good = [Delivery([opt_out(f"g{n}", f"good{n}@example.com")], ["beta"]) for n in range(5)]
    poisoned = Delivery([opt_out("bad", "bad@example.com")], [None])  # a job without a target: the database refuses
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda delivery: _error_of(inbox.submit, delivery), [*good, poisoned]))
    assert outcomes[:5] == [None] * 5
    assert isinstance(outcomes[5], InboxUnavailable)
    assert count(runtime.services.engine, consent_events) == 5
    assert runtime.services.suppression.check("email", "bad@example.com") is None


def _error_of(call, *arguments) -> BaseException | None:
    try:
        call(*arguments)
    except BaseException as error:
        return error
    return None


def test_a_client_without_the_key_is_refused_and_records_nothing(app, address, start_in_thread):  # noqa: F811
    runtime = app.extensions["consentry"].runtime
    start_in_thread(runtime, address)
    with pytest.raises(InboxUnavailable):
        RemoteInbox(address, b"wrong-key").submit(Delivery([opt_out("k", "p@example.com")], ["beta"]))
    assert count(runtime.services.engine, consent_events) == 0


def test_the_webhook_answers_503_when_the_writer_is_unreachable(database_url, tmp_path, address):
    upgrade(database_url)
    server = create_app(relay_config(database_url, INBOX_SOCKET=address, INBOX_KEY=KEY.decode()))  # nobody listens
    response = deliver(server.test_client(), "alpha", [optout("a-1")])
    assert response.status_code == 503
    assert response.get_json()["error"] == "InboxUnavailable"
    assert count(server.extensions["consentry"].runtime.services.engine, consent_events) == 0
    metrics = server.test_client().get("/metrics").get_data(as_text=True)
    assert 'consentry_webhooks_deferred_total{connector="alpha",reason="inbox_unavailable"} 1.0' in metrics
    server.extensions["consentry"].runtime.close()


def test_killing_the_writer_mid_burst_acknowledges_only_what_it_committed(tmp_path):
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")},
        "CONSENTRY_HOME": str(tmp_path),
        "CONSENTRY_DATABASE_URL": url,
        "CONSENTRY_SUPPRESSION_PEPPER": PEPPER,
        "CONSENTRY_CONNECTORS": "mailchimp",
        "CONSENTRY_MAILCHIMP_API_KEY": "0123456789abcdef0123456789abcdef-us1",
        "CONSENTRY_MAILCHIMP_LIST_ID": "a1b2c3d4e5",
        "CONSENTRY_MAILCHIMP_BASE_URL": "http://127.0.0.1:9/3.0",
        "CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN": "t" * 24,
    }
    with writer_settings() as inbox_settings:
        env |= inbox_settings
        socket_directory = Path(env["CONSENTRY_INBOX_SOCKET"]).parent
        acknowledged, refused, stored = _kill_mid_burst(env, url)
    assert not socket_directory.exists()  # the writer, killed outright, could not remove it: its owner did
    assert len(acknowledged) >= 200
    assert refused  # the deliveries in flight at the kill were not acknowledged...
    assert set(acknowledged) <= stored  # ...and none was acknowledged without being committed


def _kill_mid_burst(env: dict[str, str], url: str) -> tuple[list[str], list[str], set[str]]:
    """Eight clients submit until the writer is killed (SIGKILL) after 200 acknowledgements; what is stored."""
    writer = start_writer(env)
    inbox = RemoteInbox(env["CONSENTRY_INBOX_SOCKET"], env["CONSENTRY_INBOX_KEY"].encode())
    acknowledged, refused, stop = [], [], threading.Event()

    def send(worker: int) -> None:
        for n in range(10_000):
            if stop.is_set():
                return
            key = f"w{worker}-{n}"
            try:
                inbox.submit(Delivery([opt_out(key, f"{key}@example.com", system="mailchimp")], ["hubspot"]))
            except InboxUnavailable:
                refused.append(key)
                return
            acknowledged.append(key)

    threads = [threading.Thread(target=send, args=(worker,)) for worker in range(8)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:  # the writer goes even when the burst failed before the kill
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=10)
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = set(connection.execute(select(consent_events.c.event_key)).scalars())
        assert connection.execute(select(func.count()).select_from(consent_events)).scalar_one() == len(stored)
    engine.dispose()
    return acknowledged, refused, stored
