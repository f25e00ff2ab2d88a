"""Settings are checked when a process starts, by name; a database that goes away is reported, not a 500."""

import logging

import pytest

from consentry.connectors import registry
from consentry.connectors.hubspot import HubSpotConnector
from consentry.connectors.salesforce import SalesforceConnector
from consentry.sdk.errors import ConfigurationError
from consentry.sdk.settings import load_settings
from consentry.webhook_server import create_app
from consentry.webhook_server.propagation import LEASE
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
        ("PUBLIC_URL", "consentry.example.com"),
        ("UNSUBSCRIBE_SECRET", "too-short"),
        ("API_RATE_LIMIT", "lots"),
        ("API_RATE_STORAGE", "carrier-pigeon"),
    ],
)
def test_a_wrong_server_setting_stops_the_start_naming_it_not_its_value(database_url, name, value):
    config = relay_config(database_url, **{name: value})
    with pytest.raises(ConfigurationError) as error:
        create_app(config)
    assert f"CONSENTRY_{name}" in str(error.value)
    assert value not in str(error.value)


def test_the_checked_settings_take_their_types(database_url):
    environ = {"CONSENTRY_MAX_ATTEMPTS": "3", "CONSENTRY_ECHO_WINDOW_SECONDS": "90", "CONSENTRY_PUBLIC_URL": ""}
    runtime = build_runtime(relay_config(database_url), environ=environ)
    try:
        assert runtime.config["MAX_ATTEMPTS"] == 3
        assert runtime.echo_window.total_seconds() == 90
        assert "PUBLIC_URL" not in runtime.config  # empty means unset
    finally:
        runtime.close()


def test_the_runtime_applies_the_schemas_defaults(database_url):
    runtime = build_runtime(relay_config(database_url), environ={})
    try:
        assert runtime.config["LEASE_SECONDS"] == LEASE.total_seconds()  # the propagation module's own lease
        assert runtime.config["SWEEP_SECONDS"] == 5
        assert runtime.config["RECONCILE_SECONDS"] == 3600
        assert runtime.config["MAX_ATTEMPTS"] == 8
        assert runtime.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
        assert runtime.advertiser == "default"
        assert runtime.echo_window.total_seconds() == 3600
        assert "PUBLIC_URL" not in runtime.config
    finally:
        runtime.close()


def relay_environment(database_url: str, **variables) -> dict[str, str]:
    """The relay connector alpha enabled and configured by the environment, as an operator does."""
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    return {
        "CONSENTRY_DATABASE_URL": database_url,
        "CONSENTRY_SUPPRESSION_PEPPER": "server-test-pepper-0123456789",
        "CONSENTRY_CONNECTORS": "alpha",
        "CONSENTRY_ALPHA_SECRET": "alpha-secret",
        **variables,
    }


def test_a_wrong_connector_variable_stops_the_start_naming_it_not_its_value(database_url):
    with pytest.raises(ConfigurationError) as error:
        build_runtime(environ=relay_environment(database_url, CONSENTRY_ALPHA_AUDIENCE="martians"))
    assert "CONSENTRY_ALPHA_AUDIENCE" in str(error.value)
    assert "martians" not in str(error.value)


def test_an_unknown_variable_of_an_enabled_connector_stops_the_start(database_url):
    with pytest.raises(ConfigurationError, match="unknown setting CONSENTRY_ALPHA_SECRETS"):
        build_runtime(environ=relay_environment(database_url, CONSENTRY_ALPHA_SECRETS="typo"))


def test_an_unknown_connector_is_named_with_its_variable(database_url):
    with pytest.raises(ConfigurationError, match="CONSENTRY_CONNECTORS: no connector named 'gamma'"):
        build_runtime(environ=relay_environment(database_url, CONSENTRY_CONNECTORS="alpha,gamma"))


def test_a_secret_in_the_configuration_file_is_refused(database_url, tmp_path):
    file = tmp_path / "consentry.yaml"
    file.write_text("connectors:\n  alpha:\n    secret: alpha-secret\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="secrets belong in the environment") as error:
        build_runtime(environ=relay_environment(database_url, CONSENTRY_CONFIG_FILE=str(file)))
    assert "CONSENTRY_ALPHA_SECRET" in str(error.value)
    assert "alpha-secret" not in str(error.value)


def test_the_configuration_file_gives_non_secret_settings(database_url, tmp_path):
    file = tmp_path / "consentry.yaml"
    file.write_text("connectors:\n  alpha:\n    advertiser: from-the-file\n", encoding="utf-8")
    runtime = build_runtime(environ=relay_environment(database_url, CONSENTRY_CONFIG_FILE=str(file)))
    try:
        assert runtime.connectors["alpha"].config["advertiser"] == "from-the-file"
    finally:
        runtime.close()


def test_other_unknown_variables_are_logged_as_ignored(database_url, caplog):
    environ = relay_environment(database_url, CONSENTRY_MAX_ATTEMPT="3", CONSENTRY_HUBSPOT_ACCESS_TOKEN="not enabled")
    with caplog.at_level(logging.WARNING, logger="consentry.settings"):
        build_runtime(environ=environ).close()
    assert "ignored, not a Consentry setting: CONSENTRY_MAX_ATTEMPT" in caplog.text
    assert "HUBSPOT" not in caplog.text


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
