"""Fixtures the server's tests share: a HubSpot sandbox, the server with two relay connectors, and a runtime whose
one system is a CRM held in memory."""

import pytest

from consentry.connectors import registry
from consentry.connectors.hubspot.sandbox import create_app as hubspot_sandbox
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.store import upgrade
from consentry.webhook_server import create_app
from consentry.webhook_server.runtime import build_runtime

from . import memory_crm, relay_connector

RELAY_PEPPER = "server-test-pepper-0123456789"


@pytest.fixture
def hubspot():
    """HubSpot's sandbox, which a delivery naming contacts by id asks who they are."""
    with ServerThread(hubspot_sandbox()) as server:
        yield server


def relay_config(database_url: str, **settings) -> dict:
    """Two relay connectors on this database, plus any other settings."""
    return {
        "DATABASE_URL": database_url,
        "SUPPRESSION_PEPPER": RELAY_PEPPER,
        "CONNECTORS": ["alpha", "beta"],
        "CONNECTOR_SETTINGS": {"alpha": {"secret": "alpha-secret"}, "beta": {"secret": "beta-secret"}},
        **settings,
    }


@pytest.fixture
def relay_app(database_url, tmp_path, monkeypatch):
    """The webhook server with two relay connectors, alpha and beta, whose pushes are kept in memory."""
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    registry.register("beta", "tests.webhook_server.relay_connector:BetaConnector")
    relay = relay_connector
    for state in (relay.UNSUBSCRIBED, relay.PUSHED, relay.FAILURES, relay.DURING_PUSH):
        state.clear()
    relay_connector.BROKEN.clear()
    relay_connector.REFUSED.clear()
    upgrade(database_url)
    app = create_app(relay_config(database_url))
    yield app
    relay_connector.DURING_PUSH.clear()
    app.extensions["consentry"].runtime.close()


@pytest.fixture
def memory_runtime(database_url):
    """A runtime whose one system is a CRM held in memory, for the sync."""
    registry.register("memory", f"{memory_crm.MemoryCRM.__module__}:MemoryCRM")
    for state in (memory_crm.RECORDS, memory_crm.TAGS):
        state.clear()
    memory_crm.REFUSED.clear()
    memory_crm.DURING_PUSH.clear()
    runtime = build_runtime(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": "sync-test-pepper-0123456789",
            "CONNECTORS": ["memory"],
            "CONNECTOR_SETTINGS": {"memory": {}},
        }
    )
    yield runtime
    runtime.close()
