"""Salesforce keeps calls and SMS in one field (DoNotCall): the SMS opt-out Consentry writes there comes back as an
objection to calls, and must be recognised as Consentry's own echo."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from consentry.connectors import registry
from consentry.connectors.salesforce import outbound
from consentry.sdk.store import propagation_jobs, upgrade
from consentry.webhook_server import create_app

from .test_inbox import PEPPER, deliver, optout

ORGANIZATION = "00D000000000001AAA"
TOKEN = "w" * 24


@pytest.fixture
def app(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    upgrade(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": PEPPER,
            "CONNECTORS": ["alpha", "salesforce"],
            "CONNECTOR_SETTINGS": {
                "alpha": {"secret": "alpha-secret"},
                "salesforce": {"client_id": "x", "organization_id": ORGANIZATION, "webhook_token": TOKEN},
            },
        }
    )
    yield app
    app.extensions["consentry"].runtime.close()


def salesforce_do_not_call(app, email: str, notification: str):
    fields = {
        "Id": "003000000000001AAA",
        "DoNotCall": "true",
        "Email": email,
        "SystemModstamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    body = outbound.envelope(ORGANIZATION, "04k1", [(notification, "Contact", fields)])
    return app.test_client().post(f"/webhooks/salesforce?token={TOKEN}", data=body, content_type="text/xml")


def jobs(app) -> list[tuple[str, str]]:
    table = propagation_jobs.c
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table.target_system, table.channel).order_by(table.id))]


def test_the_do_not_call_that_an_sms_opt_out_wrote_fans_out_no_further(app):
    """Before, it was taken for a new objection to calls and sent to every other system."""
    assert deliver(app.test_client(), "alpha", [{**optout("a-sms"), "channel": "sms"}]).status_code == 200
    assert jobs(app) == [("salesforce", "sms")]
    assert salesforce_do_not_call(app, "jane@example.com", "04l000000000001").status_code == 200
    assert jobs(app) == [("salesforce", "sms")]


def test_a_do_not_call_nobody_pushed_still_reaches_the_other_systems(app):
    assert salesforce_do_not_call(app, "john@example.com", "04l000000000002").status_code == 200
    assert jobs(app) == [("alpha", "phone_human")]
