"""The connector builder both Salesforce test modules use, against their module's `sandbox` fixture."""

import pytest

from consentry.connectors.salesforce import SalesforceConnector
from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID


@pytest.fixture
def make_connector(sandbox, recorded_sleep, connector_defaults):
    def make(**overrides):
        overrides.pop("page_size", None)  # the sandbox pages by 5 records already
        config = {
            "login_url": sandbox.url,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "organization_id": DEFAULT_ORG_ID,
            "webhook_token": "salesforce-url-token-0123456789",
            "objects": ["Contact"],
            **connector_defaults,
            **overrides,
        }
        return SalesforceConnector(config, sleep=recorded_sleep.append)

    return make
