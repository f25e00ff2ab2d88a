"""Connector settings: which connectors are enabled and how each is configured, read by `consentry.sdk.settings`
with the schema each connector class declares (`config_schema`).

Non-secret settings may come from a YAML file (`connectors: {mailchimp: {list_id: ...}}`); every setting, secrets
included, can come from the environment as `CONSENTRY_<CONNECTOR>_<FIELD>` (e.g. CONSENTRY_MAILCHIMP_API_KEY).
Secrets are only ever read from the environment: a secret found in the file is refused.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consentry.sdk.errors import ConfigurationError
from consentry.sdk.settings import load_connector_settings, load_settings

from .registry import connector_class


def enabled_connectors(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return load_settings({"CONSENTRY_CONNECTORS": env.get("CONSENTRY_CONNECTORS", "")}).connectors


def connector_settings(
    names: list[str], *, environ: Mapping[str, str] | None = None, file: str | Path | None = None
) -> dict[str, dict[str, Any]]:
    """Each connector's settings, checked against its class's schema; ConfigurationError naming the variable."""
    schemas = {}
    for name in names:
        try:
            schemas[name] = connector_class(name).config_schema
        except ConfigurationError as error:
            raise ConfigurationError(f"CONSENTRY_CONNECTORS: {error}") from None
    return load_connector_settings(schemas, environ=environ, file=file)
