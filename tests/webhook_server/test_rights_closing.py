"""A rights request is closed when its last job is done (an access request: when its export is all done), so that
/metrics, the console and `rights list` read only the requests still open; and two workers finishing a request's
last two jobs at once still release Consentry's own erasure and close the request."""

import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text, update

from consentry.connectors.base import Capability, Connector, ErasureReport
from consentry.sdk.rights import LOCAL_SYSTEM, RightsKind
from consentry.sdk.store import make_engine, persons, propagation_jobs, rights_requests, upgrade
from consentry.webhook_server.propagation import _identified, run_target
from consentry.webhook_server.rights import (
    counts,
    list_requests,
    open_request,
    record_export,
    release_local_erasure,
    show,
)

from ..conftest import migrated


class ErasingCRM(Connector):
    name = "erasing"
    capabilities = frozenset({Capability.ERASE_PEOPLE})

    def erase_person(self, subject):
        return ErasureReport(method="hard_delete", deleted=["rec-1"], forgotten=1)


def closed_at(engine, request_id):
    with engine.connect() as connection:
        return connection.execute(
            select(rights_requests.c.closed_at).where(rights_requests.c.id == request_id)
        ).scalar_one()


def services_of(app):
    return app.extensions["consentry"].runtime.services


def test_an_erasure_closes_with_consentrys_own_job_the_last(relay_app):
    services = services_of(relay_app)
    with services.engine.begin() as connection:
        connection.execute(persons.insert().values(email="gone@example.com", created_at=datetime.now(UTC)))
    opened = open_request(services, ["erasing"], RightsKind.ERASURE, email="gone@example.com")
    assert counts(services.engine)["open"] == 1

    run_target(services.engine, {"erasing": ErasingCRM({})}, "erasing", suppression=services.suppression)
    assert closed_at(services.engine, opened.id) is None  # Consentry's own part is still to run
    assert counts(services.engine)["open"] == 1

    run_target(services.engine, {}, LOCAL_SYSTEM, suppression=services.suppression)
    assert closed_at(services.engine, opened.id) is not None
    assert counts(services.engine) == {"open": 0, "overdue": 0}
    assert list_requests(services.engine, not_done=True) == []
    assert show(services.engine, opened.id)["status"] == "done"  # still listed and shown, as done


def test_an_objection_closes_when_its_opt_outs_are_pushed_or_at_once_with_nobody_to_tell(relay_app):
    services = services_of(relay_app)
    connectors = relay_app.extensions["consentry"].runtime.connectors
    alone = open_request(services, [], RightsKind.OBJECTION, email="alone@example.com")
    assert closed_at(services.engine, alone.id) is not None

    told = open_request(services, ["alpha"], RightsKind.OBJECTION, email="told@example.com")
    assert closed_at(services.engine, told.id) is None
    assert counts(services.engine)["open"] == 1
    [outcome] = run_target(services.engine, connectors, "alpha")
    assert outcome.status == "done"
    assert closed_at(services.engine, told.id) is not None
    assert counts(services.engine)["open"] == 0


def test_a_request_with_a_dead_job_stays_open_and_counted(relay_app):
    services = services_of(relay_app)
    opened = open_request(services, ["nowhere"], RightsKind.OBJECTION, email="stuck@example.com")
    [outcome] = run_target(services.engine, {}, "nowhere")
    assert outcome.status == "dead"
    assert closed_at(services.engine, opened.id) is None
    assert show(services.engine, opened.id)["status"] == "failed"
    assert counts(services.engine)["open"] == 1


def test_an_access_request_closes_when_every_system_is_exported_and_reopens_if_one_fails_later(relay_app):
    services = services_of(relay_app)
    opened = open_request(services, ["alpha"], RightsKind.ACCESS, email="asks@example.com")
    record_export(services.engine, opened.id, {"consentry": "done", "alpha": "failed"})
    assert closed_at(services.engine, opened.id) is None
    assert counts(services.engine)["open"] == 1
    record_export(services.engine, opened.id, {"consentry": "done", "alpha": "done"})
    assert closed_at(services.engine, opened.id) is not None
    assert counts(services.engine)["open"] == 0
    record_export(services.engine, opened.id, {"consentry": "done", "alpha": "failed"})
    assert closed_at(services.engine, opened.id) is None
    assert list_requests(services.engine, not_done=True)[0]["status"] == "failed"


def test_counting_reads_only_the_requests_not_closed(relay_app):
    """A request marked closed is not read at all, even one whose jobs say otherwise: the count's read is bounded
    by the requests still open, not by every request ever received."""
    services = services_of(relay_app)
    opened = open_request(services, ["nowhere"], RightsKind.OBJECTION, email="open@example.com")
    assert counts(services.engine)["open"] == 1
    with services.engine.begin() as connection:
        connection.execute(
            update(rights_requests).where(rights_requests.c.id == opened.id).values(closed_at=datetime.now(UTC))
        )
    assert counts(services.engine)["open"] == 0
    assert [answer["id"] for answer in list_requests(services.engine)] == [opened.id]  # listing all still reads it


@pytest.mark.postgres
def test_two_workers_finishing_the_last_two_erasures_at_once_release_consentrys_own(relay_app, database_url):
    """Each worker marks its own job done, then looks at the others. Without the request's row lock, both looked
    before either committed, each saw the other's job still running, and Consentry's erasure waited for ever."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's writers take turns: two transactions cannot both be writing")
    services = services_of(relay_app)
    with services.engine.begin() as connection:
        connection.execute(persons.insert().values(email="twice@example.com", created_at=datetime.now(UTC)))
    opened = open_request(services, ["one", "two"], RightsKind.ERASURE, email="twice@example.com")
    jobs = propagation_jobs.c
    now = datetime.now(UTC)

    def finish(connection, target):
        connection.execute(
            update(propagation_jobs)
            .where(jobs.request_id == opened.id, jobs.target_system == target)
            .values(status="done", done_at=now)
        )

    first, second = services.engine.connect(), services.engine.connect()
    try:
        first.begin()
        second.begin()
        finish(first, "one")
        finish(second, "two")
        assert release_local_erasure(first, opened.id, now) is False  # "two" is not committed yet
        released = []
        later = threading.Thread(target=lambda: released.append(release_local_erasure(second, opened.id, now)))
        later.start()
        later.join(0.5)
        assert later.is_alive()  # waiting on the request's row, which the first worker holds
        first.commit()
        later.join(10)
        second.commit()
    finally:
        first.close()
        second.close()
    assert released == [True]
    with services.engine.connect() as connection:
        local = connection.execute(
            select(jobs.status).where(jobs.request_id == opened.id, jobs.target_system == LOCAL_SYSTEM)
        ).scalar_one()
    assert local == "pending"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def at_0010(request, tmp_path):
    """A database migrated to the revision before `closed_at`."""
    return migrated(request.param, tmp_path, "0010")


def test_the_migration_closes_the_requests_already_done(at_0010):
    engine = make_engine(at_0010)
    finished = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    received = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            for number, kind, exported in [
                (1, "erasure", None),  # all its jobs done: closed when the last one was
                (2, "erasure", None),  # one job still pending: open
                (3, "objection", None),  # no jobs at all (nobody to tell): done, closed
                (4, "access", '{"consentry": "done", "alpha": "done"}'),
                (5, "access", '{"consentry": "done", "alpha": "failed"}'),
                (6, "access", None),  # never exported
                (7, "access", "{}"),  # exported with nothing connected: done, as `rights show` says
            ]:
                connection.execute(
                    text(
                        "INSERT INTO rights_requests (id, kind, received_at, received_zone, due_on, source, "
                        "exported, created_at) VALUES (:id, :kind, :at, 'Europe/Paris', '2026-12-01', 'cli', "
                        ":exported, :at)"
                    ),
                    {"id": number, "kind": kind, "at": received, "exported": exported},
                )
            jobs = [
                (1, "done", finished.replace(hour=8)),
                (1, "done", finished),
                (2, "done", finished),
                (2, "pending", None),
            ]
            for number, (request_id, status, done_at) in enumerate(jobs):
                connection.execute(
                    text(
                        "INSERT INTO propagation_jobs (event_key, source_system, target_system, channel, action, "
                        "request_id, status, attempts, next_attempt_at, received_at, updated_at, done_at) VALUES "
                        "(:key, 'rights', :target, 'all', 'erase', :request, :status, 0, :at, :at, :at, :done)"
                    ),
                    {
                        "key": f"rights:{request_id}",
                        "target": f"system{number}",
                        "request": request_id,
                        "status": status,
                        "at": received,
                        "done": done_at,
                    },
                )
        engine.dispose()
        upgrade(at_0010)
        with engine.connect() as connection:
            closed = dict(connection.execute(select(rights_requests.c.id, rights_requests.c.closed_at)).all())
    finally:
        engine.dispose()
    assert closed[1] == finished
    assert closed[2] is None
    assert closed[3] == received
    assert closed[4] is not None
    assert closed[5] is None
    assert closed[6] is None
    assert closed[7] is not None


def test_a_workers_jobs_are_finished_in_the_order_of_their_requests(engine):
    """Finishing a request's job locks the request: every worker takes them in one order, requests first by id,
    so that two workers never wait on each other's (a deadlock on PostgreSQL)."""

    def row(job, request):
        return SimpleNamespace(
            id=job,
            channel="email",
            attempts=1,
            person_id=None,
            held_email="x@example.com",
            held_phone=None,
            request_id=request,
        )

    with engine.connect() as connection:
        claimed, nobody = _identified(connection, [row(1, 7), row(2, None), row(3, 5), row(4, 7)])
    assert nobody == []
    assert [(job.request_id, job.id) for job in claimed] == [(None, 2), (5, 3), (7, 1), (7, 4)]
