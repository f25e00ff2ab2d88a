"""End to end on 127.0.0.1: three sandboxes, the webhook server under gunicorn, and a worker process."""

import time
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import select

from consentry.sdk.store import make_engine, propagation_jobs
from consentry.webhook_server.stack import Stack
from tests.conftest import fresh_postgres, service_url
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYSTEMS = ("mailchimp", "hubspot", "salesforce")


@contextmanager
def running(stack: Stack):
    """Stack's own `with` stops nothing when its start fails half-way (a server that never answered, after the
    writer and the worker started): stop whatever it started either way."""
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture
def stack(tmp_path):
    with running(Stack(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'consentry.db'}")) as started:
        yield started


def jobs(stack):
    answer = requests.get(f"{stack.server_url}/metrics", timeout=5).text
    return {
        line.split('"')[1]: float(line.split()[-1])
        for line in answer.splitlines()
        if line.startswith("consentry_propagation_jobs{")
    }


@pytest.mark.parametrize("origin", SYSTEMS)
def test_an_unsubscribe_in_one_system_reaches_the_other_two(stack, origin):
    email = f"jeanne.{origin}@example.com"
    stack.seed_person(email)
    stack.unsubscribe_in(origin, email)
    assert wait_for(lambda: all(stack.opted_out_in(email).values())), stack.opted_out_in(email)
    assert wait_for(lambda: jobs(stack).get("done") == 2)
    time.sleep(1.5)  # the echoes of our own writes arrive and must fan out no further
    assert jobs(stack) == {"pending": 0, "running": 0, "failed": 0, "done": 2, "dead": 0}


def test_killing_the_worker_mid_burst_loses_no_opt_out(stack):
    emails = [f"burst{n}@example.com" for n in range(20)]
    for email in emails:
        stack.seed_person(email)
    for email in emails:
        stack.unsubscribe_in("mailchimp", email)
    time.sleep(0.5)
    stack.kill_worker()
    stack.start_worker()
    assert wait_for(lambda: all(all(stack.opted_out_in(e).values()) for e in emails), timeout=60)


def test_sandboxes_failing_for_a_while_delay_but_lose_nothing(stack):
    email = "patience@example.com"
    stack.seed_person(email)
    requests.post(f"{stack.url('hubspot')}/_sandbox/faults", json={"fail_next": 4, "fail_status": 503}, timeout=5)
    requests.post(f"{stack.url('salesforce')}/_sandbox/faults", json={"fail_next": 3, "fail_status": 429}, timeout=5)
    stack.unsubscribe_in("mailchimp", email)
    assert wait_for(lambda: all(stack.opted_out_in(email).values()), timeout=60), stack.opted_out_in(email)


def test_forged_requests_store_nothing(stack):
    forged = requests.post(
        f"{stack.server_url}/webhooks/hubspot",
        data=b"[]",
        headers={"X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": "1"},
        timeout=5,
    )
    assert forged.status_code == 401
    wrong_token = requests.post(
        f"{stack.server_url}/webhooks/mailchimp?token=guess", data=b"type=unsubscribe", timeout=5
    )
    assert wrong_token.status_code == 401
    huge = requests.post(f"{stack.server_url}/webhooks/hubspot", data=b"[" + b" " * 2_000_000 + b"]", timeout=10)
    assert huge.status_code == 413
    assert jobs(stack) == {"pending": 0, "running": 0, "failed": 0, "done": 0, "dead": 0}


@pytest.mark.postgres
def test_two_worker_processes_on_postgresql_share_the_opt_outs(tmp_path):
    """No queue but the job table: the server's NOTIFY wakes both workers, and every opt-out reaches every system,
    each job done once (its attempt count is its claims)."""
    url = fresh_postgres(service_url("postgres"))
    with running(Stack(home=tmp_path, database_url=url)) as stack:
        stack.start_worker("worker-2")
        emails = [f"pair{number}@example.com" for number in range(12)]
        for email in emails:
            stack.seed_person(email)
        for email in emails:
            stack.unsubscribe_in("hubspot", email)
        assert wait_for(lambda: all(all(stack.opted_out_in(email).values()) for email in emails), timeout=60)
        assert wait_for(lambda: set(jobs(stack)) and jobs(stack)["done"] == 2 * len(emails))
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            attempts = connection.execute(select(propagation_jobs.c.attempts)).scalars().all()
    finally:
        engine.dispose()
    assert attempts == [1] * 2 * len(emails)


def test_the_worker_reconciles_drift_that_no_webhook_reported(tmp_path):
    """An opt-out made while nobody listened (here: seeded straight into HubSpot, which sends no webhook for it)
    reaches the other systems through the worker's periodic reconciliation alone."""
    home = tmp_path / "drift"
    home.mkdir()
    settings = {"CONSENTRY_RECONCILE_SECONDS": "1"}
    with running(Stack(home=home, database_url=f"sqlite:///{home / 'consentry.db'}", settings=settings)) as stack:
        requests.post(
            f"{stack.url('mailchimp')}/_sandbox/lists/{stack.env['CONSENTRY_MAILCHIMP_LIST_ID']}/seed",
            json={"members": [{"email_address": "drift@example.com", "status": "subscribed"}]},
            timeout=10,
        ).raise_for_status()
        requests.post(
            f"{stack.url('salesforce')}/_sandbox/seed",
            json={"Contact": [{"Email": "drift@example.com", "LastName": "Drift"}]},
            timeout=10,
        ).raise_for_status()
        requests.post(
            f"{stack.url('hubspot')}/_sandbox/contacts/seed",
            json={"contacts": [{"email": "drift@example.com", "opted_out": True}]},
            timeout=10,
        ).raise_for_status()
        assert wait_for(lambda: all(stack.opted_out_in("drift@example.com").values()), timeout=45)
        deliveries = requests.get(f"{stack.url('hubspot')}/_sandbox/deliveries", timeout=5)
        if deliveries.ok:  # HubSpot said nothing about it: the reconciliation found it
            assert all("drift" not in str(entry) for entry in deliveries.json().get("deliveries", []))
