"""Connector settings: which connectors are enabled and how each is configured.

Non-secret settings may come from a YAML file (`connectors: {mailchimp: {list_id: ...}}`); every setting, secrets
included, can come from the environment as `CONSENTRY_<CONNECTOR>_<FIELD>` (e.g. CONSENTRY_MAILCHIMP_API_KEY).
Secrets are only ever read from the environment: a secret found in the file is refused.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from consentry.sdk.errors import ConfigurationError

from .registry import connector_class


def enabled_connectors(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [name.strip() for name in env.get("CONSENTRY_CONNECTORS", "").split(",") if name.strip()]


def connector_settings(
    names: list[str], *, environ: Mapping[str, str] | None = None, file: str | Path | None = None
) -> dict[str, dict[str, Any]]:
    env = os.environ if environ is None else environ
    from_file: dict[str, Any] = {}
    if file:
        try:
            document = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigurationError(f"cannot read the configuration file ({type(error).__name__})") from None
        from_file = document.get("connectors") or {}
    settings = {}
    for name in names:
        cls = connector_class(name)
        fields = cls.config_schema().fields
        secrets = set(cls.secret_fields())
        values = dict(from_file.get(name) or {})
        leaked = secrets & set(values)
        if leaked:
            raise ConfigurationError(f"{name}: secrets belong in the environment, not the file ({', '.join(leaked)})")
        prefix = f"CONSENTRY_{name.upper()}_"
        for field_name in fields:
            value = env.get(prefix + field_name.upper())
            if value is not None:
                values[field_name] = value
        settings[name] = values
    return settings
