"""Every setting in one place: the `CONSENTRY_*` environment variables, and each connector's own settings.

`SettingsSchema` declares each variable once (type, default, range, whether it is secret, what it means); README's
configuration table is compared with it by a test. A connector declares its settings on its class
(`config_schema`), read here from `CONSENTRY_<CONNECTOR>_<SETTING>` or from the YAML file named by
`CONSENTRY_CONFIG_FILE` (`connectors: {mailchimp: {list_id: ...}}`). Secrets are only ever read from the
environment: one found in the file is refused. Everything is checked when a process starts; a wrong value stops
it with a ConfigurationError naming the variable, never its value. An empty variable counts as unset.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marshmallow
import yaml
from marshmallow import fields
from marshmallow.validate import Length, Range
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigurationError

PREFIX = "CONSENTRY_"
DEFAULT_PEPPER_ID = "p1"
# Variables under a connector's prefix that are not its settings: its emulator's (`consentry sandbox`).
SANDBOX_INFIX = "SANDBOX_"


def setting(
    kind: fields.Field[Any], meaning: str, *, secret: bool = False, default: str | None = None
) -> fields.Field[Any]:
    """A variable: `meaning` is its line in README's table; `default` says in words a default computed at start."""
    kind.metadata = {**kind.metadata, "meaning": meaning, "secret": secret, **({"default": default} if default else {})}
    if secret:
        kind.load_only = True
    return kind


def _database_url(value: str) -> None:
    """SQLite and PostgreSQL are the two backends the store is built and tested on."""
    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("sqlite", "postgresql"):
        raise marshmallow.ValidationError("expected a sqlite:/// or postgresql:// URL")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise marshmallow.ValidationError("expected a name")


_RATE = re.compile(r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*$", re.IGNORECASE)


def _rate_limit(value: str) -> None:
    """Flask-Limiter's notation: `600/minute`, several separated by `;` or `,`."""
    parts = re.split(r"[;,]", value)
    if not all(_RATE.match(part) for part in parts):
        raise marshmallow.ValidationError("expected a rate such as 600/minute")


# The storages Flask-Limiter (through `limits`) counts in, by URI scheme: each process's memory, or a shared server.
RATE_STORAGES = frozenset(
    {"memory", "redis", "rediss", "redis+unix", "redis+cluster", "redis+sentinel", "memcached", "mongodb"}
    | {"mongodb+srv", "valkey", "valkeys", "valkey+unix", "valkey+cluster", "valkey+sentinel"}
)


def _rate_storage(value: str) -> None:
    scheme, separator, _rest = value.partition("://")
    if not separator or scheme not in RATE_STORAGES:
        raise marshmallow.ValidationError("expected memory:// or a storage URI such as redis://host:6379")


class Names(fields.Field[list[str]]):
    """A list of names: `a,b` in the environment, a list from Python."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
            raise marshmallow.ValidationError("expected names separated by commas")
        names = [item.strip() for item in items if item.strip()]
        if len(set(names)) != len(names):
            raise marshmallow.ValidationError("a name is given twice")
        return names


class Peppers(fields.Field[dict[str, bytes]]):
    """Rotated-out peppers, `id:secret,id:secret`, each secret 16+ characters."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, bytes]:
        if not isinstance(value, str):
            raise marshmallow.ValidationError("expected id:secret,id:secret")
        peppers: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            pepper_id, separator, secret = item.partition(":")
            if not separator or not pepper_id or len(secret) < 16:
                raise marshmallow.ValidationError("expected id:secret,... with secrets of 16+ characters")
            peppers[pepper_id] = secret.encode()
        return peppers


class SettingsSchema(marshmallow.Schema):
    """Every `CONSENTRY_*` variable, named without its prefix. Unknown names are refused."""

    class Meta:
        unknown = marshmallow.RAISE

    HOME = setting(
        fields.String(load_default="."),
        "where the default SQLite database and the queue's file live",
        default="`.` (the current directory)",
    )
    DATABASE_URL = setting(
        fields.String(load_default=None, validate=_database_url),
        "SQLite file (WAL) or `postgresql://user:password@host/db`",
        default="`sqlite:///$CONSENTRY_HOME/consentry.db`",
    )
    SUPPRESSION_PEPPER = setting(
        fields.String(load_default=None, validate=Length(min=16)),
        "secret key of the suppression list's hashes, 16+ characters; required by the ledger and the suppression list",
        secret=True,
    )
    SUPPRESSION_PEPPER_ID = setting(
        fields.String(load_default=DEFAULT_PEPPER_ID, validate=_not_blank), "the current pepper's id"
    )
    SUPPRESSION_OLD_PEPPERS = setting(
        Peppers(load_default=dict), "rotated-out peppers, `id:secret,id:secret`", secret=True
    )
    CONNECTORS = setting(Names(load_default=list), "enabled connectors, e.g. `mailchimp,hubspot,salesforce`")
    CONFIG_FILE = setting(fields.String(load_default=None), "YAML with non-secret connector settings")
    UNSUBSCRIBE_SECRET = setting(
        fields.String(load_default=None, validate=Length(min=16)),
        "signs unsubscribe links, 16+ characters; unset: no unsubscribe pages",
        secret=True,
    )
    CONSOLE_SECRET = setting(
        fields.String(load_default=None, validate=Length(min=32)),
        "signs the console's session cookies and form tokens, 32+ characters; unset: no console (`/console` is a 404)",
        secret=True,
    )
    ADVERTISER = setting(
        fields.String(load_default="default", validate=Length(min=1)),
        "the advertiser consents and objections are recorded for",
    )
    PUBLIC_URL = setting(
        fields.Url(load_default=None, schemes={"http", "https"}, require_tld=False),
        "the public origin behind a proxy (webhook signatures cover it); unset: the request's URL",
    )
    INBOX_SOCKET = setting(
        fields.String(load_default=None),
        "where the inbox writer listens, set by `consentry serve` on SQLite; unset: each server process commits",
    )
    INBOX_KEY = setting(
        fields.String(load_default=None, validate=Length(min=16)),
        "the key the inbox writer's clients prove, set by `consentry serve` with `CONSENTRY_INBOX_SOCKET`",
        secret=True,
    )
    MAX_CONTENT_LENGTH = setting(
        fields.Integer(load_default=1024 * 1024, validate=Range(min=1024)),  # HubSpot's batches of 100 fit well
        "largest webhook body accepted, bytes (1024 or more)",
    )
    LEASE_SECONDS = setting(
        fields.Float(load_default=5, validate=Range(min=1)),
        "how long a job stays held after its worker's last heartbeat (renewed every third of it); 1 or more",
    )
    SWEEP_SECONDS = setting(
        fields.Float(load_default=5, validate=Range(min=0.1)),
        "how often a worker looks for due jobs nobody announced (retries, a stopped worker's); 0.1 or more",
    )
    RECONCILE_SECONDS = setting(
        fields.Float(load_default=3600, validate=Range(min=0)),
        "how often the worker reconciles every system in full; 0 turns it off",
    )
    MAX_ATTEMPTS = setting(
        fields.Integer(load_default=8, validate=Range(min=1, max=100)), "tries per job before it is dead (1 to 100)"
    )
    ECHO_WINDOW_SECONDS = setting(
        fields.Float(load_default=3600, validate=Range(min=0)),
        "how long an opt-out reported back by a system Consentry just wrote to counts as its echo",
    )
    API_RATE_LIMIT = setting(
        fields.String(load_default="600/minute", validate=_rate_limit),
        "requests each API key may make to `/v1`, e.g. `600/minute` or `10/second;600/minute`",
    )
    API_KEY_CACHE_SECONDS = setting(
        fields.Float(load_default=5, validate=Range(min=0, max=300)),
        "how long each server process trusts an API key it has looked up: a revoked key stops working within this "
        "many seconds; 0 looks every request's key up",
    )
    API_RATE_STORAGE = setting(
        fields.String(load_default="memory://", validate=_rate_storage),
        "where the API's rate limits are counted: `memory://` (each process), or `redis://host:6379` and the like, "
        "shared by every server",
    )

    @marshmallow.pre_load
    def _unset_when_empty(self, data: Mapping[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {name: value for name, value in data.items() if value is not None and value != ""}

    @marshmallow.post_load
    def _database_in_home(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data["DATABASE_URL"] is None:
            data = {**data, "DATABASE_URL": default_database_url(data["HOME"])}
        return {**data, "SUPPRESSION_PEPPER_ID": data["SUPPRESSION_PEPPER_ID"].strip()}


VARIABLES: dict[str, fields.Field[Any]] = {PREFIX + name: item for name, item in SettingsSchema().fields.items()}


def documented_default(item: fields.Field[Any]) -> str:
    """The default as README's table writes it: a value in backticks, words for one computed at start, or none."""
    if "default" in item.metadata:
        return str(item.metadata["default"])
    value = item.load_default
    if value is None or value is marshmallow.missing or callable(value):
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


@dataclass(frozen=True)
class Settings:
    """The checked settings; `values` holds every variable by its name without the prefix (None when unset)."""

    database_url: str
    peppers: dict[str, bytes] = field(default_factory=dict, repr=False)
    current_pepper_id: str = DEFAULT_PEPPER_ID
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pepper(self) -> bytes:
        if self.current_pepper_id not in self.peppers:
            raise ConfigurationError("set CONSENTRY_SUPPRESSION_PEPPER: the secret key of the suppression list hashes")
        return self.peppers[self.current_pepper_id]

    @property
    def connectors(self) -> list[str]:
        return list(self.values.get("CONNECTORS") or [])


def default_database_url(home: str = ".") -> str:
    return f"sqlite:///{Path(home) / 'consentry.db'}"


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The `CONSENTRY_*` variables this schema declares, named without the prefix; other ones are left out."""
    return {name.removeprefix(PREFIX): value for name, value in environ.items() if name in VARIABLES}


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then the environment's `CONSENTRY_*` variables, then `overrides` (names without the prefix, typed
    values allowed: `{"CONNECTORS": ["mailchimp"]}`). ConfigurationError naming what is wrong, never its value."""
    values: dict[str, Any] = from_environment(os.environ if environ is None else environ)
    given = dict(overrides or {})
    values.update({name: value for name, value in given.items() if value is not None and value != ""})
    for name, value in given.items():
        if value is None or value == "":  # an override may unset what the environment says
            values.pop(name, None)
    try:
        loaded = SettingsSchema().load(values)
    except marshmallow.ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {}
        unknown = sorted(name for name, reasons in messages.items() if reasons == ["Unknown field."])
        wrong = sorted(set(messages) - set(unknown))
        parts = [f"invalid setting: {', '.join(PREFIX + name for name in wrong)}"] if wrong else []
        parts += [f"unknown setting: {', '.join(PREFIX + name for name in unknown)}"] if unknown else []
        raise ConfigurationError("; ".join(parts or ["invalid settings"])) from None
    peppers = dict(loaded["SUPPRESSION_OLD_PEPPERS"])
    if loaded["SUPPRESSION_PEPPER"]:
        peppers[loaded["SUPPRESSION_PEPPER_ID"]] = loaded["SUPPRESSION_PEPPER"].encode()
    return Settings(
        database_url=loaded["DATABASE_URL"],
        peppers=peppers,
        current_pepper_id=loaded["SUPPRESSION_PEPPER_ID"],
        values=loaded,
    )


# -- each connector's settings -----------------------------------------------------------------------------------


def secret_fields(schema: type[marshmallow.Schema]) -> list[str]:
    return [name for name, item in schema().fields.items() if item.metadata.get("secret")]


def connector_variable(connector: str, name: str) -> str:
    return f"{PREFIX}{connector.upper()}_{name.upper()}"


def read_config_file(file: str | Path | None) -> dict[str, dict[str, Any]]:
    """The `connectors:` section of the YAML file, by connector name; {} without a file."""
    if not file:
        return {}
    try:
        document = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"CONSENTRY_CONFIG_FILE: cannot read the file ({type(error).__name__})") from None
    if not isinstance(document, dict) or set(document) - {"connectors"}:
        raise ConfigurationError("CONSENTRY_CONFIG_FILE: the file holds one mapping, `connectors:`, and nothing else")
    sections = document.get("connectors") or {}
    if not isinstance(sections, dict) or not all(isinstance(values or {}, dict) for values in sections.values()):
        raise ConfigurationError("CONSENTRY_CONFIG_FILE: `connectors:` maps each connector to its settings")
    return {str(name): dict(values or {}) for name, values in sections.items()}


def load_connector_settings(
    schemas: Mapping[str, type[marshmallow.Schema]],
    *,
    environ: Mapping[str, str] | None = None,
    file: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Each enabled connector's settings as given (its class loads them), checked against its schema first: the
    file's values, then `CONSENTRY_<CONNECTOR>_<SETTING>`. ConfigurationError naming the variable or file key."""
    env = os.environ if environ is None else environ
    from_file = read_config_file(file)
    settings = {}
    for name, schema in schemas.items():
        known = schema().fields
        values = dict(from_file.get(name) or {})
        leaked = sorted(set(secret_fields(schema)) & set(values))
        if leaked:
            where = ", ".join(f"{key}: set {connector_variable(name, key)}" for key in leaked)
            raise ConfigurationError(f"{name}: secrets belong in the environment, not the file ({where})")
        sources = dict.fromkeys(values, "CONSENTRY_CONFIG_FILE")
        prefix = f"{PREFIX}{name.upper()}_"
        for variable, value in env.items():
            key = variable.removeprefix(prefix).lower()
            if not variable.startswith(prefix) or variable in VARIABLES or value == "":
                continue
            if key not in known:
                if not key.upper().startswith(SANDBOX_INFIX):
                    raise ConfigurationError(f"{name}: unknown setting {variable}")
                continue
            values[key], sources[key] = value, variable
        _check(name, schema, values, sources)
        settings[name] = values
    return settings


def _check(name: str, schema: type[marshmallow.Schema], values: dict[str, Any], sources: dict[str, str]) -> None:
    try:
        schema().load(dict(values))
    except marshmallow.ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        wrong = []
        for key in sorted(messages):
            if key == "_schema":
                wrong.append("its settings together")
            elif sources.get(key) == "CONSENTRY_CONFIG_FILE":
                wrong.append(f"{key} in CONSENTRY_CONFIG_FILE")
            else:
                wrong.append(f"{key} from {connector_variable(name, key)}")
        raise ConfigurationError(f"{name}: invalid configuration ({', '.join(wrong)})") from None


def documented_rows() -> list[tuple[str, str, str]]:
    """README's configuration table as the schema says it: variable (secrets in bold), default, meaning."""
    rows = []
    for variable, item in VARIABLES.items():
        name = f"**`{variable}`**" if item.metadata["secret"] else f"`{variable}`"
        rows.append((name, documented_default(item), item.metadata["meaning"]))
    return rows
