"""A vendor that does not answer in time: the worker's push fails at its deadline and is retried, instead of
keeping the job running (and the worker's thread busy) for as long as the vendor likes."""

import time
from datetime import UTC, datetime

import requests
from sqlalchemy import select

from consentry.connectors.mailchimp import MailchimpConnector
from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.persons import ensure_person
from consentry.sdk.store import propagation_jobs
from consentry.webhook_server.propagation import bound_vendor_calls, run_target


def test_a_push_to_a_vendor_slower_than_the_deadline_fails_at_the_deadline_and_is_retried(engine):
    with ServerThread(create_app()) as sandbox:
        requests.post(f"{sandbox.url}/_sandbox/faults", json={"delay_seconds": 4}, timeout=5).raise_for_status()
        connector = MailchimpConnector(
            {"api_key": DEFAULT_API_KEY, "list_id": DEFAULT_LIST_ID, "base_url": sandbox.url}
        )
        connectors = {"mailchimp": connector}
        bound_vendor_calls(connectors, 1.0)
        now = datetime.now(UTC)
        with engine.begin() as connection:
            person = ensure_person(connection, "jane@example.com", None)
            connection.execute(
                propagation_jobs.insert().values(
                    event_key="k-1",
                    person_id=person,
                    source_system="hubspot",
                    target_system="mailchimp",
                    channel="email",
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    received_at=now,
                    updated_at=now,
                )
            )
        started = time.monotonic()
        [outcome] = run_target(engine, connectors, "mailchimp")
        elapsed = time.monotonic() - started
        connector.transport.session.close()
    assert outcome.status == "failed"
    assert elapsed < 2.5  # the sandbox would have taken 4 s
    with engine.connect() as connection:
        job = connection.execute(select(propagation_jobs.c.status, propagation_jobs.c.last_error)).one()
    assert tuple(job) == ("failed", "DEADLINE_EXCEEDED")
