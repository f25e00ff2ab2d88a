"""The connector builder the HubSpot test modules use, against their module's `sandbox` fixture."""

import pytest

from consentry.connectors.hubspot import HubSpotConnector
from consentry.connectors.hubspot.sandbox import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN


@pytest.fixture
def make_connector(sandbox, built):
    settings = {"access_token": DEFAULT_TOKEN, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": sandbox.url}
    return lambda **overrides: built(HubSpotConnector, settings, overrides)
