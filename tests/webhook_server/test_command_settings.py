"""A command needs only the settings it uses: webhook secrets are the server's alone, and a missing one is named by
the variables that would give it."""

import os
import sys

import pytest

from consentry.sdk.cli import main
from consentry.sdk.errors import ConfigurationError
from consentry.sdk.store import upgrade
from consentry.webhook_server import sync
from consentry.webhook_server.runtime import build_runtime
from tests.processes import run_group

PEPPER = "command-settings-pepper-0123456789"
# Each connector configured to read and write its CRM, and not to receive its webhooks.
WITHOUT_WEBHOOKS = {
    "mailchimp": {"CONSENTRY_MAILCHIMP_API_KEY": "key-us1", "CONSENTRY_MAILCHIMP_LIST_ID": "a1b2c3d4e5"},
    "hubspot": {"CONSENTRY_HUBSPOT_ACCESS_TOKEN": "token"},
    "salesforce": {"CONSENTRY_SALESFORCE_CLIENT_ID": "client", "CONSENTRY_SALESFORCE_CLIENT_SECRET": "secret"},
}
# What the server asks for, given the settings above (plus, for the last, the organisation id).
WEBHOOK_VARIABLES = {
    "mailchimp": "set CONSENTRY_MAILCHIMP_WEBHOOK_SIGNING_SECRET or CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN",
    "hubspot": "set CONSENTRY_HUBSPOT_CLIENT_SECRET",
    "salesforce": "set CONSENTRY_SALESFORCE_ORGANIZATION_ID and CONSENTRY_SALESFORCE_WEBHOOK_TOKEN",
}


def environment(database_url: str, **variables: str) -> dict[str, str]:
    """The three connectors enabled as an operator would, by the environment, without any webhook secret."""
    env = {"CONSENTRY_DATABASE_URL": database_url, "CONSENTRY_SUPPRESSION_PEPPER": PEPPER}
    env["CONSENTRY_CONNECTORS"] = ",".join(WITHOUT_WEBHOOKS)
    for settings in WITHOUT_WEBHOOKS.values():
        env |= settings
    return env | variables


@pytest.fixture
def configured(tmp_path, monkeypatch):
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(database_url)
    for name in [name for name in os.environ if name.startswith("CONSENTRY_") and name != "CONSENTRY_HOME"]:
        monkeypatch.delenv(name)
    for name, value in environment(database_url).items():
        monkeypatch.setenv(name, value)
    return database_url


def test_report_runs_without_any_webhook_secret(configured, tmp_path, capsys):
    assert main(["report", "--output", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "report.html"), str(tmp_path / "report.csv")]


def test_sync_starts_without_any_webhook_secret(configured, monkeypatch, capsys):
    started = []

    class Summary:
        def lines(self):
            return ["nothing to do"]

    def fake_sync(runtime, **options):
        started.append(sorted(runtime.connectors))
        return Summary()

    monkeypatch.setattr(sync, "run_sync", fake_sync)
    assert main(["sync", "--dry-run"]) == 0
    assert started == [["hubspot", "mailchimp", "salesforce"]]
    assert capsys.readouterr().out == "nothing to do\n"


def test_the_worker_builds_its_runtime_without_any_webhook_secret(configured):
    runtime = build_runtime(environ=environment(configured), receives_webhooks=False)
    try:
        assert sorted(runtime.connectors) == ["hubspot", "mailchimp", "salesforce"]
    finally:
        runtime.close()


@pytest.mark.parametrize("connector", WEBHOOK_VARIABLES)
def test_the_server_names_the_variables_that_give_a_missing_webhook_secret(tmp_path, connector):
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    given = {
        "mailchimp": {"CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN": "mailchimp-url-token"},
        "hubspot": {"CONSENTRY_HUBSPOT_CLIENT_SECRET": "hubspot-client-secret"},
        "salesforce": {
            "CONSENTRY_SALESFORCE_WEBHOOK_TOKEN": "t",
            "CONSENTRY_SALESFORCE_ORGANIZATION_ID": "00D000000000001",
        },
    }
    env = environment(database_url)
    for name in WITHOUT_WEBHOOKS.keys() - {connector}:  # only this connector lacks its secret
        env |= given[name]
    with pytest.raises(ConfigurationError) as error:
        build_runtime(environ=env)
    assert (
        str(error.value) == f"{connector} cannot verify its webhooks: {WEBHOOK_VARIABLES[connector]}; refusing to start"
    )


def test_the_salesforce_organisation_id_alone_still_asks_for_the_token(tmp_path):
    env = environment(
        f"sqlite:///{tmp_path / 'consentry.db'}",
        CONSENTRY_CONNECTORS="salesforce",
        CONSENTRY_SALESFORCE_ORGANIZATION_ID="00D000000000001",
    )
    with pytest.raises(ConfigurationError, match=r"set CONSENTRY_SALESFORCE_WEBHOOK_TOKEN; refusing to start$"):
        build_runtime(environ=env)


def test_serve_refuses_to_start_naming_the_variable(configured, tmp_path):
    env = {**os.environ, "CONSENTRY_CONNECTORS": "mailchimp"}
    result = run_group([sys.executable, "-m", "consentry.sdk.cli", "serve"], env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert (
        result.stderr
        == f"consentry: mailchimp cannot verify its webhooks: {WEBHOOK_VARIABLES['mailchimp']}; refusing to start\n"
    )
