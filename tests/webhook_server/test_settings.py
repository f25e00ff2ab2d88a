"""Settings are checked when a process starts, by name; a database that goes away is reported, not a 500."""

import pytest

from consentry.connectors.hubspot import HubSpotConnector
from consentry.connectors.salesforce import SalesforceConnector
from consentry.sdk.config import load_settings
from consentry.sdk.errors import ConfigurationError
from consentry.webhook_server import create_app
from consentry.webhook_server.runtime import build_runtime

from .test_inbox import _relays, app, relay_config  # noqa: F401 - fixtures (the relay connectors, the app)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_CONTENT_LENGTH", "a megabyte"),
        ("MAX_CONTENT_LENGTH", "-1"),
        ("ECHO_WINDOW_SECONDS", "an hour"),
        ("ECHO_WINDOW_SECONDS", "nan"),
        ("MAX_ATTEMPTS", "0"),
        ("MAX_ATTEMPTS", "eight"),
        ("LEASE_SECONDS", "0"),
        ("SWEEP_SECONDS", "-1"),
        ("RECONCILE_SECONDS", "hourly"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("PUBLIC_URL", "consentry.example.com"),
        ("UNSUBSCRIBE_SECRET", "too-short"),
    ],
)
def test_a_wrong_server_setting_stops_the_start_naming_it_not_its_value(database_url, name, value):
    config = relay_config(database_url, **{name: value})
    with pytest.raises(ConfigurationError) as error:
        create_app(config)
    assert f"CONSENTRY_{name}" in str(error.value)
    assert value not in str(error.value)


def test_the_checked_settings_take_their_types(database_url):
    environ = {"CONSENTRY_MAX_ATTEMPTS": "3", "CONSENTRY_ECHO_WINDOW_SECONDS": "90", "CONSENTRY_REDIS_URL": ""}
    runtime = build_runtime(relay_config(database_url), environ=environ)
    try:
        assert runtime.config["MAX_ATTEMPTS"] == 3
        assert runtime.echo_window.total_seconds() == 90
        assert "REDIS_URL" not in runtime.config  # empty means unset
    finally:
        runtime.close()


@pytest.mark.parametrize("url", ["mysql://consentry@127.0.0.1/consentry", "nosuch://x", "not a url"])
def test_only_sqlite_and_postgresql_urls_are_accepted(url):
    with pytest.raises(ConfigurationError, match="CONSENTRY_DATABASE_URL"):
        load_settings({"CONSENTRY_DATABASE_URL": url})


@pytest.mark.parametrize(
    ("connector", "settings"),
    [
        (HubSpotConnector, {"access_token": "t", "rate_limit": 0}),
        (HubSpotConnector, {"access_token": "t", "search_rate": -4}),
        (HubSpotConnector, {"access_token": "t", "subscription_ids": [0]}),
        (HubSpotConnector, {"access_token": "t", "base_url": "ftp://127.0.0.1/"}),
        (SalesforceConnector, {"client_id": "x", "organization_id": "00Dshort"}),
        (SalesforceConnector, {"client_id": "x", "organization_id": "001000000000001AAA"}),  # an Account id
        (SalesforceConnector, {"client_id": "x", "bulk_threshold": 0}),
        (SalesforceConnector, {"client_id": "x", "daily_reserve": -1}),
        (SalesforceConnector, {"client_id": "x", "login_url": "file:///etc/passwd"}),
    ],
)
def test_connector_settings_out_of_range_are_refused(connector, settings):
    with pytest.raises(ConfigurationError):
        connector(settings)


def test_health_is_503_and_metrics_still_answer_when_the_database_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    gone = tmp_path / "removed" / "consentry.db"  # its directory does not exist: SQLite cannot open it
    server = create_app(relay_config(f"sqlite:///{gone}"))
    try:
        health = server.test_client().get("/healthz")
        assert health.status_code == 503
        assert health.json == {"status": "unavailable", "database": "unreachable"}
        metrics = server.test_client().get("/metrics")
        assert metrics.status_code == 200
        assert "consentry_database_up 0.0" in metrics.get_data(as_text=True)
        assert "consentry_webhooks_rejected_total" in metrics.get_data(as_text=True)
    finally:
        server.extensions["consentry"].runtime.close()


def test_metrics_report_the_database_up(app):  # noqa: F811
    assert "consentry_database_up 1.0" in app.test_client().get("/metrics").get_data(as_text=True)
