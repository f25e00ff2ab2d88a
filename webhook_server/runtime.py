"""What a server or worker process holds: the store, the ledger, and the enabled connectors, built from config.

Configuration comes from defaults, then `CONSENTRY_*` environment variables, then the mapping given by the caller
(tests), all checked by the one schema of `consentry.sdk.settings`. A process refuses to start when a setting is
wrong, naming it; one that receives webhooks (the server) also when an enabled connector lacks its webhook secret,
naming the variables that would give it. Other commands (sync, report, the worker) need no webhook secret.
"""

import copy
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from consentry.connectors.base import Capability, Connector
from consentry.connectors.registry import available, create
from consentry.connectors.settings import connector_settings
from consentry.sdk.errors import ConfigurationError, WebhookVerificationError
from consentry.sdk.services import Services, open_services
from consentry.sdk.settings import PREFIX, VARIABLES, SettingsSchema, connector_variable, load_settings

log = logging.getLogger("consentry.settings")

# The settings with a fixed default, by name without the prefix.
DEFAULTS: dict[str, Any] = {
    name: item.load_default
    for name, item in SettingsSchema().fields.items()
    if item.load_default is not None and not callable(item.load_default)
}
# Not a variable: the connectors' settings given from Python, by connector name (tests).
CONNECTOR_SETTINGS = "CONNECTOR_SETTINGS"
# The test suite's own variables (see README's Development section), not settings of a process.
TOOLING = ("CONSENTRY_CI", "CONSENTRY_TEST_")


@dataclass
class Runtime:
    config: Mapping[str, Any]
    services: Services
    connectors: dict[str, Connector]

    @property
    def advertiser(self) -> str:
        return str(self.config.get("ADVERTISER", "default"))

    @property
    def echo_window(self) -> timedelta:
        return timedelta(seconds=float(self.config.get("ECHO_WINDOW_SECONDS", 3600)))

    def close(self) -> None:
        self.services.close()


def build_runtime(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    receives_webhooks: bool = True,
) -> Runtime:
    env = dict(os.environ if environ is None else environ)
    given = dict(overrides or {})
    per_connector = given.pop(CONNECTOR_SETTINGS, None)
    settings = load_settings(env, given)
    settings.pepper  # noqa: B018 - refuse to start without the suppression pepper
    config = {name: value for name, value in settings.values.items() if value is not None}
    names = settings.connectors
    if per_connector is None:
        _warn_unknown(env)
        per_connector = connector_settings(names, environ=env, file=config.get("CONFIG_FILE"))
    connectors = {name: create(name, per_connector.get(name, {})) for name in names}
    if receives_webhooks:
        _require_webhook_secrets(connectors)
    return Runtime(config=config, services=open_services(settings), connectors=connectors)


def _warn_unknown(env: Mapping[str, str]) -> None:
    """A `CONSENTRY_*` variable that is neither a setting nor under a connector's prefix is likely a typo."""
    prefixes = (*(f"{PREFIX}{name.upper()}_" for name in available()), *TOOLING)
    unknown = sorted(
        name for name in env if name.startswith(PREFIX) and name not in VARIABLES and not name.startswith(prefixes)
    )
    if unknown:
        log.warning("ignored, not a Consentry setting: %s", ", ".join(unknown))


def _require_webhook_secrets(connectors: Mapping[str, Connector]) -> None:
    for name, connector in connectors.items():
        if connector.supports(Capability.RECEIVE_WEBHOOKS) and not _verifies(connector):
            needed = _webhook_settings(connector)
            variables = [" and ".join(connector_variable(name, key) for key in keys) for keys in needed]
            what = f"set {' or '.join(variables)}" if variables else "its webhook settings are incomplete"
            raise ConfigurationError(f"{name} cannot verify its webhooks: {what}; refusing to start")


def _verifies(connector: Connector, **settings: str) -> bool:
    """Whether the connector, given these extra settings, can build its webhook verifier."""
    probe = copy.copy(connector)
    probe.config = {**connector.config, **settings}
    try:
        probe.webhook_verifier()
    except WebhookVerificationError:
        return False
    return True


def _webhook_settings(connector: Connector) -> list[list[str]]:
    """The unset settings that would let the connector verify its webhooks: each one that would alone, or else the
    fewest that would together. Found by trying, so that each connector's own rule is the one reported (Mailchimp
    takes a signing secret or a URL token; Salesforce a URL token and the organisation id)."""
    unset = [key for key, value in connector.config.items() if value is None]
    placeholder = "0" * 32
    alone = [[key] for key in unset if _verifies(connector, **{key: placeholder})]
    if alone or not _verifies(connector, **dict.fromkeys(unset, placeholder)):
        return alone
    needed = list(unset)
    for key in unset:  # drop each one the others do without
        if _verifies(connector, **dict.fromkeys([k for k in needed if k != key], placeholder)):
            needed.remove(key)
    return [needed]
