"""A vendor's own GDPR deletion reaches the inbox as an erasure event: a request to erase the person everywhere,
unless it is the echo of Consentry's own erasure there (its deleted record, or an erase job under way for that
person, the webhook racing the commit that records the deleted ids)."""

from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from consentry.connectors.base import InboundEvent
from consentry.sdk.consent_state import ALL_CHANNELS, EventKind
from consentry.sdk.store import contacts, persons, propagation_jobs, rights_requests
from consentry.webhook_server.inbox import ingest

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def synced(services, email="gone@example.com", system="alpha", record="r-1") -> int:
    """A person a sync tied to a record of `system`."""
    with services.engine.begin() as connection:
        person = connection.execute(
            insert(persons).values(email=email, created_at=NOW).returning(persons.c.id)
        ).scalar_one()
        connection.execute(
            insert(contacts).values(person_id=person, source_system=system, source_record_id=record, updated_at=NOW)
        )
    return person


def erased_in(system="alpha", record="r-1", key="privacy-1") -> InboundEvent:
    return InboundEvent(
        event_key=key,
        kind=EventKind.OBJECTED,
        channel=ALL_CHANNELS,
        occurred_at=NOW,
        system=system,
        record_id=record,
        erasure=True,
    )


def requests_and_jobs(services):
    with services.engine.connect() as connection:
        made = connection.execute(select(rights_requests.c.kind, rights_requests.c.source)).all()
        jobs = dict(connection.execute(select(propagation_jobs.c.target_system, propagation_jobs.c.status)).all())
    return made, jobs


def runtime_of(relay_app):
    return relay_app.extensions["consentry"].runtime


def test_an_erasure_in_a_vendor_opens_a_request_for_every_system(relay_app):
    services = runtime_of(relay_app).services
    synced(services)
    result = ingest(services, [erased_in()], targets=["beta"], advertiser="acme", now=NOW)
    assert (result.new_events, result.echoes) == (1, 0)
    made, jobs = requests_and_jobs(services)
    assert made == [("erasure", "alpha")]
    assert jobs == {"alpha": "pending", "beta": "pending", "consentry": "waiting"}


def test_the_same_webhook_delivered_twice_opens_one_request(relay_app):
    services = runtime_of(relay_app).services
    synced(services)
    ingest(services, [erased_in()], targets=["beta"], advertiser="acme", now=NOW)
    again = ingest(services, [erased_in()], targets=["beta"], advertiser="acme", now=NOW)
    assert again.echoes == 1
    assert len(requests_and_jobs(services)[0]) == 1


def test_the_echo_of_an_erasure_under_way_is_recognised_before_its_ids_are_recorded(relay_app):
    services = runtime_of(relay_app).services
    synced(services)
    from consentry.sdk.rights import RightsKind
    from consentry.webhook_server.rights import open_request

    open_request(services, ["alpha", "beta"], RightsKind.ERASURE, email="gone@example.com", now=NOW)
    with services.engine.begin() as connection:  # the worker is deleting the record in alpha right now
        connection.execute(
            update(propagation_jobs).where(propagation_jobs.c.target_system == "alpha").values(status="running")
        )
    echo = ingest(services, [erased_in()], targets=["beta"], advertiser="acme", now=NOW)
    assert (echo.echoes, echo.new_events) == (1, 0)
    assert len(requests_and_jobs(services)[0]) == 1


def test_a_record_never_synced_names_nobody_and_records_nothing(relay_app):
    services = runtime_of(relay_app).services
    result = ingest(services, [erased_in(record="unknown")], targets=["beta"], advertiser="acme", now=NOW)
    assert result.skipped == 1
    assert requests_and_jobs(services) == ([], {})


def test_open_and_overdue_requests_are_counted_in_metrics(relay_app):
    from consentry.sdk.rights import RightsKind
    from consentry.webhook_server.rights import open_request

    services = runtime_of(relay_app).services
    long_ago = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    open_request(services, [], RightsKind.ACCESS, email="late@example.com", received_at=long_ago)
    open_request(services, [], RightsKind.ACCESS, email="fresh@example.com")
    open_request(services, [], RightsKind.OBJECTION, email="done@example.com")  # no other system: done at once
    page = relay_app.test_client().get("/metrics").get_data(as_text=True)
    assert 'consentry_rights_requests{state="open"} 2.0' in page
    assert 'consentry_rights_requests{state="overdue"} 1.0' in page
    assert "@" not in page
