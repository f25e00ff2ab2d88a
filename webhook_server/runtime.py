"""What a server or worker process holds: the store, the ledger, and the enabled connectors, built from config.

Configuration comes from defaults, then `CONSENTRY_*` environment variables, then the mapping given by the caller
(tests). A process refuses to start when an enabled connector that receives webhooks lacks its secret.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import marshmallow
from marshmallow import fields
from marshmallow.validate import Length, Range

from consentry.connectors.base import Capability, Connector
from consentry.connectors.registry import create
from consentry.connectors.settings import connector_settings, enabled_connectors
from consentry.sdk.config import load_settings
from consentry.sdk.errors import ConfigurationError, WebhookVerificationError
from consentry.sdk.services import Services, open_services

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # bytes; HubSpot's batches of 100 events fit well inside
    "ADVERTISER": "default",
    "ECHO_WINDOW_SECONDS": 3600,
    "MAX_ATTEMPTS": 8,
}


def _redis_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise marshmallow.ValidationError("expected redis://, rediss:// or unix://")


class ServerSettings(marshmallow.Schema):
    """The server's and workers' own settings, checked when a process starts: a typo fails there, with the
    setting's name, rather than at the first delivery. Other keys (connectors, database) pass through."""

    class Meta:
        unknown = marshmallow.INCLUDE

    MAX_CONTENT_LENGTH = fields.Integer(validate=Range(min=1024))
    ECHO_WINDOW_SECONDS = fields.Float(validate=Range(min=0))
    MAX_ATTEMPTS = fields.Integer(validate=Range(min=1, max=100))
    LEASE_SECONDS = fields.Float(validate=Range(min=1))
    SWEEP_SECONDS = fields.Float(validate=Range(min=0.1))
    RECONCILE_SECONDS = fields.Float(validate=Range(min=0))  # 0 turns reconciliation off
    REDIS_URL = fields.String(validate=_redis_url)
    PUBLIC_URL = fields.Url(schemes={"http", "https"}, require_tld=False)
    ADVERTISER = fields.String(validate=Length(min=1))
    UNSUBSCRIBE_SECRET = fields.String(validate=Length(min=16), load_only=True)  # signs the unsubscribe links


def checked(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with their own types; ConfigurationError naming the wrong ones (never their values)."""
    try:
        return ServerSettings().load({key: value for key, value in config.items() if value != ""})
    except marshmallow.ValidationError as error:
        names = ", ".join(f"CONSENTRY_{name}" for name in sorted(error.messages))
        raise ConfigurationError(f"invalid setting: {names}") from None


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


def build_runtime(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Runtime:
    env = dict(os.environ if environ is None else environ)
    config: dict[str, Any] = dict(DEFAULTS)
    for key, value in env.items():
        if key.startswith("CONSENTRY_"):
            config[key.removeprefix("CONSENTRY_")] = value
    config.update(overrides or {})
    config = checked(config)
    for key in ("DATABASE_URL", "SUPPRESSION_PEPPER", "SUPPRESSION_PEPPER_ID", "SUPPRESSION_OLD_PEPPERS", "HOME"):
        if config.get(key) is not None:
            env[f"CONSENTRY_{key}"] = str(config[key])
    settings = load_settings(env)
    settings.pepper  # noqa: B018 - refuse to start without the suppression pepper
    names = config.get("CONNECTORS") or enabled_connectors(env)
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    given = config.get("CONNECTOR_SETTINGS")
    per_connector = (
        given if given is not None else connector_settings(names, environ=env, file=config.get("CONFIG_FILE"))
    )
    connectors = {name: create(name, per_connector.get(name, {})) for name in names}
    _require_webhook_secrets(connectors)
    return Runtime(config=config, services=open_services(settings), connectors=connectors)


def _require_webhook_secrets(connectors: Mapping[str, Connector]) -> None:
    for name, connector in connectors.items():
        if not connector.supports(Capability.RECEIVE_WEBHOOKS):
            continue
        try:
            connector.webhook_verifier()
        except WebhookVerificationError:
            raise ConfigurationError(f"{name}: the webhook secret is not configured; refusing to start") from None
