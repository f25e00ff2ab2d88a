"""The connector builder the Salesforce test modules use, against their module's `sandbox` fixture; a sandbox app
that records every request it receives (`sandbox_app`, `received`), for tests that count API requests on the
sandbox's side; and the session that carries simple-salesforce's https URLs to a sandbox on 127.0.0.1."""

from urllib.parse import urlsplit

import pytest
import requests
from simple_salesforce import Salesforce

from consentry.connectors.salesforce import SalesforceConnector
from consentry.connectors.salesforce.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    create_app,
)
from tests.received import Received


@pytest.fixture
def make_connector(sandbox, built):
    settings = {
        "login_url": sandbox.url,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "organization_id": DEFAULT_ORG_ID,
        "webhook_token": "salesforce-url-token-0123456789",
        "objects": ["Contact"],
    }

    def make(**overrides):
        overrides.pop("page_size", None)  # the sandbox pages by 5 records already
        return built(SalesforceConnector, settings, overrides)

    return make


@pytest.fixture
def sandbox_app():
    """A sandbox app (pages of 5 records, quick bulk jobs) wrapped in `Received`; a module serves it as `sandbox`."""
    app = create_app(page_size=5, bulk_step=0.02)
    app.wsgi_app = Received(app.wsgi_app)
    yield app
    app.extensions["salesforce_sandbox"].close()


@pytest.fixture
def connector_defaults():
    """Contacts and Leads; a module that reads other objects defines its own."""
    return {"objects": ["Contact", "Lead"]}


class ToSandbox(requests.adapters.HTTPAdapter):
    """simple-salesforce always builds https:// URLs on *.salesforce.com or the instance host: send them to the
    sandbox over http instead."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def send(self, request, **options):
        parts = urlsplit(request.url)
        request.url = self.url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **options)


@pytest.fixture
def loopback():
    """`loopback(server)`: a requests session for simple-salesforce that reaches the running sandbox."""

    def session_for(server) -> requests.Session:
        session = requests.Session()
        session.mount("https://", ToSandbox(server.url))
        return session

    return session_for


@pytest.fixture
def sf(server, loopback):
    """simple-salesforce signed in to the module's `server` fixture (each module runs its sandbox its own way)."""
    token = requests.post(f"{server.url}/_sandbox/token", timeout=5).json()["access_token"]
    return Salesforce(instance_url=server.url, session_id=token, session=loopback(server))
