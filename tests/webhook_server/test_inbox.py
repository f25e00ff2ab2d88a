"""The server's durable inbox and propagation, with two in-memory connectors (no vendor involved)."""

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from consentry.connectors import registry
from consentry.sdk.errors import ConfigurationError
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import consent_events, propagation_jobs, upgrade
from consentry.webhook_server import create_app
from consentry.webhook_server.propagation import due_targets, run_target

from . import relay_connector
from .conftest import relay_config
from .relay_connector import BROKEN, FAILURES, LOCKED, REFUSED, UNSUBSCRIBED, sign

PEPPER = "server-test-pepper-0123456789"


@pytest.fixture(autouse=True)
def _relays():
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    registry.register("beta", "tests.webhook_server.relay_connector:BetaConnector")
    UNSUBSCRIBED.clear()
    FAILURES.clear()
    BROKEN.clear()
    REFUSED.clear()
    LOCKED.clear()


@pytest.fixture
def app(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    upgrade(database_url)
    app = create_app(relay_config(database_url))
    yield app
    app.extensions["consentry"].runtime.close()


def deliver(client, name, events, *, secret=None):
    body = json.dumps(events).encode()
    headers = {"X-Relay-Signature": sign(body, secret or f"{name}-secret"), "Content-Type": "application/json"}
    return client.post(f"/webhooks/{name}", data=body, headers=headers)


def optout(key, email="jane@example.com", at="2026-05-01T10:00:00+00:00"):
    return {"id": key, "kind": "withdrawn", "email": email, "at": at}


def count(app, table):
    engine = app.extensions["consentry"].runtime.services.engine
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def run_all(app):
    runtime = app.extensions["consentry"].runtime
    engine = runtime.services.engine
    return [
        outcome.status for target in due_targets(engine) for outcome in run_target(engine, runtime.connectors, target)
    ]


def hourly():
    """A clock an hour later at each reading: every retry is due by the next round."""
    hours = itertools.count(1)
    return lambda: datetime.now(UTC) + timedelta(hours=next(hours))


def test_an_opt_out_is_stored_and_propagated_to_the_other_system(app):
    client = app.test_client()
    assert deliver(client, "alpha", [optout("a-1")]).status_code == 200
    assert count(app, consent_events) == 1
    assert run_all(app) == ["done"]
    assert UNSUBSCRIBED["beta"] == {"jane@example.com"}
    assert "alpha" not in UNSUBSCRIBED
    suppression = app.extensions["consentry"].runtime.services.suppression
    assert suppression.check(IdentifierKind.EMAIL, "jane@example.com").covers("email")


def test_a_duplicate_delivery_is_acknowledged_and_changes_nothing(app):
    client = app.test_client()
    deliver(client, "alpha", [optout("a-1")])
    assert deliver(client, "alpha", [optout("a-1")]).status_code == 200
    assert count(app, consent_events) == 1
    assert count(app, propagation_jobs) == 1


def test_the_echo_of_our_own_write_fans_out_no_further(app):
    client = app.test_client()
    deliver(client, "alpha", [optout("a-1")])
    run_all(app)
    deliver(client, "beta", [optout("b-echo")])  # beta reports the unsubscribe we just made
    assert count(app, consent_events) == 2
    assert count(app, propagation_jobs) == 1


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'[{"id": "x"}]', {"X-Relay-Signature": "0" * 64}),
        (b"[]", {}),
    ],
    ids=["forged", "unsigned"],
)
def test_forged_requests_get_401_and_store_nothing(app, body, headers):
    answer = app.test_client().post("/webhooks/alpha", data=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json["error"] == "WebhookRejected"
    assert count(app, consent_events) == 0


@pytest.mark.parametrize(
    "event",
    [
        {**optout("a-2", email="b@example.com"), "channel": "e-mail"},
        optout("a-2", email="b@example.com", at="2026-05-01T10:00:00"),  # no time zone
        optout("a-2", email="b@example.com", at="0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        optout("k" * 201, email="b@example.com"),
        optout("a-\ud800", email="b@example.com"),  # a lone surrogate: not Unicode text
    ],
    ids=["unknown channel", "naive time", "time out of range", "key too long", "lone surrogate"],
)
def test_an_event_the_ledger_would_refuse_fails_its_whole_delivery_with_400(app, event):
    """Before, such an event was counted as skipped (or crashed the commit with a 500) and its valid neighbours
    were stored: the vendor got a 200 for a delivery that was only partly recorded."""
    answer = deliver(app.test_client(), "alpha", [optout("a-1"), event])
    assert answer.status_code == 400
    assert answer.json["error"] == "MalformedWebhook"
    assert count(app, consent_events) == 0


def test_an_authentic_request_of_the_wrong_shape_gets_400_and_stores_nothing(app):
    client = app.test_client()
    answer = deliver(client, "alpha", [optout("a-1"), {"id": "a-2", "kind": "withdrawn", "email": "x@example.com"}])
    assert answer.status_code == 400
    assert answer.json["error"] == "MalformedWebhook"
    assert "@" not in answer.json["message"]
    assert count(app, consent_events) == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'consentry_webhooks_rejected_total{connector="alpha",reason="malformed"} 1.0' in metrics


def test_oversized_requests_get_413_and_store_nothing(app):
    huge = [optout(f"k{n}", email=f"p{n}@example.com") for n in range(20000)]
    answer = deliver(app.test_client(), "alpha", huge)
    assert answer.status_code == 413
    assert answer.is_json
    assert count(app, consent_events) == 0
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'consentry_webhooks_rejected_total{connector="alpha",reason="too_large"} 1.0' in metrics


def test_a_stale_event_never_resubscribes(app):
    client = app.test_client()
    deliver(client, "alpha", [optout("a-1", at="2026-05-02T00:00:00+00:00")])
    deliver(
        client,
        "alpha",
        [{"id": "a-0", "kind": "granted", "email": "jane@example.com", "at": "2026-05-01T00:00:00+00:00"}],
    )
    ledger = app.extensions["consentry"].runtime.services.ledger
    assert ledger.state(channel="email", advertiser="default", email="jane@example.com").status == "opted_out"


def test_a_failing_target_is_retried_then_dead_then_replayable(app):
    from consentry.webhook_server.propagation import dead_jobs, retry_dead

    runtime = app.extensions["consentry"].runtime
    engine, connectors = runtime.services.engine, runtime.connectors
    FAILURES["beta"] = 100
    deliver(app.test_client(), "alpha", [optout("a-1")])
    later = hourly()
    rounds = [o for _ in range(3) for o in run_target(engine, connectors, "beta", max_attempts=3, now=later)]
    assert [outcome.status for outcome in rounds] == ["failed", "failed", "dead"]
    assert [row["id"] for row in dead_jobs(engine)] == [rounds[0].job_id]
    FAILURES["beta"] = 0
    assert retry_dead(engine) == 1
    assert [outcome.status for outcome in run_target(engine, connectors, "beta")] == ["done"]


def test_a_batch_the_vendor_keeps_refusing_ends_dead_not_done(app):
    """A refusal that names no item is retried; at the last attempt it was recorded "done" though never applied."""
    engine = app.extensions["consentry"].runtime.services.engine
    connectors = app.extensions["consentry"].runtime.connectors
    REFUSED.add("beta")
    deliver(app.test_client(), "alpha", [optout("a-1")])
    later = hourly()
    rounds = [o for _ in range(3) for o in run_target(engine, connectors, "beta", max_attempts=3, now=later)]
    assert [outcome.status for outcome in rounds] == ["failed", "failed", "dead"]
    assert "beta" not in UNSUBSCRIBED
    with engine.connect() as connection:
        job = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
    assert tuple(job) == ("dead", "REJECTED_INVALID_EMAIL")


@pytest.mark.parametrize(("locked", "statuses"), [(2, ["failed", "failed", "done"]), (5, ["failed", "failed", "dead"])])
def test_an_item_refused_for_a_while_is_retried_not_dead(app, locked, statuses):
    """A record the vendor holds locked (Salesforce's UNABLE_TO_LOCK_ROW) is refused by name but only for now: the
    opt-out is tried again with backoff, and ends dead only when still refused at the last attempt."""
    engine = app.extensions["consentry"].runtime.services.engine
    connectors = app.extensions["consentry"].runtime.connectors
    LOCKED["beta"] = locked
    deliver(app.test_client(), "alpha", [optout("a-1")])
    later = hourly()
    rounds = [o for _ in range(3) for o in run_target(engine, connectors, "beta", max_attempts=3, now=later)]
    assert [outcome.status for outcome in rounds] == statuses
    assert ("jane@example.com" in UNSUBSCRIBED.get("beta", set())) is (statuses[-1] == "done")
    if statuses[-1] == "dead":
        with engine.connect() as connection:
            job = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
        assert tuple(job) == ("dead", "REJECTED_ROW_LOCKED")


def abandon(engine, *, attempts: int) -> None:
    """As a worker killed while holding the job, `attempts` times over."""
    expired = datetime.now(UTC) - timedelta(minutes=1)
    with engine.begin() as connection:
        connection.execute(update(propagation_jobs).values(status="running", attempts=attempts, lease_until=expired))


def test_a_job_that_lost_its_worker_at_every_attempt_ends_dead(app):
    """Before, a job whose worker died each time (one that crashes the process) was claimed again forever."""
    runtime = app.extensions["consentry"].runtime
    engine, connectors = runtime.services.engine, runtime.connectors
    deliver(app.test_client(), "alpha", [optout("a-1")])
    abandon(engine, attempts=3)
    assert run_target(engine, connectors, "beta", max_attempts=3) == []
    with engine.connect() as connection:
        row = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
    assert tuple(row) == ("dead", "LEASE_EXPIRED")
    assert "beta" not in UNSUBSCRIBED


def test_a_job_that_lost_its_worker_before_its_last_attempt_is_taken_again(app):
    runtime = app.extensions["consentry"].runtime
    engine = runtime.services.engine
    deliver(app.test_client(), "alpha", [optout("a-1")])
    abandon(engine, attempts=2)
    assert [o.status for o in run_target(engine, runtime.connectors, "beta", max_attempts=3)] == ["done"]
    assert UNSUBSCRIBED["beta"] == {"jane@example.com"}


def test_a_connector_that_crashes_leaves_its_jobs_failed_then_dead_never_running(app):
    """A connector's bug (not a ConnectorError) is recorded on the job and retried like a vendor failure; before,
    the job stayed `running` and was claimed again after every lease, forever, with no error on record."""
    engine = app.extensions["consentry"].runtime.services.engine
    connectors = app.extensions["consentry"].runtime.connectors
    BROKEN.add("beta")
    deliver(app.test_client(), "alpha", [optout("a-1")])
    later = hourly()
    rounds = [o for _ in range(3) for o in run_target(engine, connectors, "beta", max_attempts=3, now=later)]
    assert [outcome.status for outcome in rounds] == ["failed", "failed", "dead"]
    with engine.connect() as connection:
        job = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
    assert tuple(job) == ("dead", "UNEXPECTED_RuntimeError")


def test_a_failed_look_up_at_the_vendor_gets_503_and_stores_nothing(app):
    """An event naming a record only, whose vendor cannot say who it is: no 2xx, so the vendor delivers again."""
    answer = deliver(
        app.test_client(),
        "alpha",
        [{"id": "a-1", "kind": "withdrawn", "record": "r-1", "at": "2026-05-01T10:00:00+00:00"}],
    )
    assert answer.status_code == 503
    assert answer.json["error"] == "VendorUnavailable"
    assert count(app, consent_events) == 0
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'consentry_webhooks_deferred_total{connector="alpha",reason="vendor_unavailable"} 1.0' in metrics


def test_unknown_connector_is_404_json(app):
    answer = app.test_client().post("/webhooks/nobody", data=b"{}")
    assert answer.status_code == 404
    assert answer.is_json


def test_health_and_metrics(app):
    client = app.test_client()
    assert client.get("/healthz").json["status"] == "ok"
    deliver(client, "alpha", [optout("a-1")])
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'consentry_events_received_total{connector="alpha"} 1.0' in metrics
    assert "consentry_queue_depth 1.0" in metrics


def test_refuses_to_start_without_a_webhook_secret(database_url):
    with pytest.raises(ConfigurationError) as error:
        create_app(
            {
                "DATABASE_URL": database_url,
                "SUPPRESSION_PEPPER": PEPPER,
                "CONNECTORS": ["alpha"],
                "CONNECTOR_SETTINGS": {"alpha": {}},
            }
        )
    assert "refusing to start" in str(error.value)


def test_relay_module_is_importable_by_name():
    assert relay_connector.AlphaConnector.name == "alpha"
