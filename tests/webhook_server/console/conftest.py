"""The console on a real database: an app with its secret, a viewer and an operator, and a person whose consent,
opt-out and dead propagation job the pages show."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from consentry.sdk.consent_state import ConsentEvent
from consentry.sdk.store import contacts, persons, propagation_jobs
from consentry.webhook_server import create_app
from consentry.webhook_server.console.users import create_user

SECRET = "console-secret-for-tests-0123456789abcdef"
PASSWORDS = {"vera": "viewer-password-0123", "otto": "operator-password-0123"}
EMAIL = "jeanne.martin@example.com"
PHONE = "+33612345678"  # the same person's number: never on a page asked about her email
PROOF_WORDING = "J'accepte de recevoir les offres d'Acme par email"


def console_config(database_url: str, **settings) -> dict:
    return {
        "DATABASE_URL": database_url,
        "SUPPRESSION_PEPPER": "console-test-pepper-0123456789",
        "ADVERTISER": "acme",
        **settings,
    }


@pytest.fixture
def console(database_url):
    """The server with its console, two accounts (vera the viewer, otto the operator) and one person."""
    app = create_app(console_config(database_url, CONSOLE_SECRET=SECRET))
    services = app.extensions["consentry"].runtime.services
    create_user(services.engine, "vera", "viewer", PASSWORDS["vera"])
    create_user(services.engine, "otto", "operator", PASSWORDS["otto"])
    seed_person(services)
    yield app
    app.extensions["consentry"].runtime.close()


def seed_person(services) -> int:
    """Jeanne: a proven email consent, then an SMS objection from alpha, whose job to beta is dead; returns the
    dead job's id."""
    now = datetime.now(UTC)
    granted = ConsentEvent(
        event_key="form:c-1:email",
        kind="granted",
        channel="email",
        occurred_at=now - timedelta(days=3),
        source_system="alpha",
        advertiser="acme",
        collection_point="https://acme.example/newsletter",
        wording=PROOF_WORDING,
        wording_version="v2",
        method="double_opt_in",
        ip="203.0.113.7",
    )
    objected = ConsentEvent(
        event_key="alpha:c-1:sms",
        kind="objected",
        channel="sms",
        occurred_at=now - timedelta(days=1),
        source_system="alpha",
        advertiser="acme",
    )
    services.ledger.append(granted, email=EMAIL, phone=PHONE)
    services.ledger.append(objected, email=EMAIL, phone=PHONE)
    with services.engine.begin() as connection:
        person_id = connection.execute(select(persons.c.id).where(persons.c.email == EMAIL)).scalar_one()
        connection.execute(
            insert(contacts).values(
                person_id=person_id,
                source_system="alpha",
                source_record_id="a-1",
                jurisdiction="FR",
                audience="b2c",
                updated_at=now,
            )
        )
        return connection.execute(
            insert(propagation_jobs)
            .values(
                event_key="alpha:c-1:sms",
                person_id=person_id,
                source_system="alpha",
                target_system="beta",
                channel="sms",
                status="dead",
                attempts=8,
                next_attempt_at=now,
                received_at=now - timedelta(days=1),
                updated_at=now,
                last_error="HTTP_503",
            )
            .returning(propagation_jobs.c.id)
        ).scalar_one()


def dead_job_id(app) -> int:
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return connection.execute(select(propagation_jobs.c.id).where(propagation_jobs.c.status == "dead")).scalar_one()
