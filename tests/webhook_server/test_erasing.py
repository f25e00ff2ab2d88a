"""Consentry's own part of an erasure, run by the worker: the person and the request's copy of the identifiers go
in one transaction; a database too busy to truncate its log afterwards is said, naming the request."""

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from consentry.connectors.base import Capability, Connector, ErasureReport
from consentry.sdk.rights import LOCAL_SYSTEM, RightsKind
from consentry.sdk.store import persons, propagation_jobs, rights_requests
from consentry.webhook_server import erasing
from consentry.webhook_server.propagation import run_target
from consentry.webhook_server.rights import open_request, show


def test_with_no_other_system_consentrys_own_erasure_runs_and_a_busy_log_is_reported(relay_app, monkeypatch, caplog):
    services = relay_app.extensions["consentry"].runtime.services
    with services.engine.begin() as connection:
        connection.execute(persons.insert().values(email="last@example.com", created_at=datetime.now(UTC)))
    opened = open_request(services, [], RightsKind.ERASURE, email="last@example.com")
    monkeypatch.setattr(erasing, "forget_freed_pages", lambda engine, patience: False)
    caplog.set_level(logging.WARNING, logger="consentry.rights")
    [outcome] = run_target(services.engine, {}, LOCAL_SYSTEM, suppression=services.suppression)
    assert outcome.status == "done"
    assert show(services.engine, opened.id)["status"] == "done"
    with services.engine.connect() as connection:
        assert connection.execute(select(persons.c.id)).all() == []
        request = connection.execute(select(rights_requests.c.email, rights_requests.c.phone)).one()
    assert tuple(request) == (None, None)
    [warning] = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert f"rights request {opened.id}: erased" in warning
    assert "@" not in warning


class BinningCRM(Connector):
    """A vendor where someone else had deleted one of the person's records into its recycle bin meanwhile."""

    name = "binning"
    capabilities = frozenset({Capability.ERASE_PEOPLE})

    def erase_person(self, subject):
        return ErasureReport(method="hard_delete", deleted=["rec-1"], forgotten=1, in_recycle_bin=1)


def test_an_erasure_says_when_records_still_wait_in_the_vendors_recycle_bin(relay_app):
    services = relay_app.extensions["consentry"].runtime.services
    with services.engine.begin() as connection:
        connection.execute(persons.insert().values(email="binned@example.com", created_at=datetime.now(UTC)))
    opened = open_request(services, ["binning"], RightsKind.ERASURE, email="binned@example.com")
    [outcome] = run_target(services.engine, {"binning": BinningCRM({})}, "binning", suppression=services.suppression)
    assert outcome.status == "done"
    with services.engine.connect() as connection:
        done = connection.execute(
            select(propagation_jobs.c.outcome).where(propagation_jobs.c.target_system == "binning")
        ).scalar_one()
    assert done == "hard_delete, 1 forgotten, 1 in bin"
    assert show(services.engine, opened.id)["systems"]["binning"] == "done"
