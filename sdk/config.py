"""Settings from `CONSENTRY_*` environment variables; secrets are only ever read from the environment."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigurationError

DEFAULT_PEPPER_ID = "p1"


@dataclass(frozen=True)
class Settings:
    database_url: str
    peppers: dict[str, bytes] = field(default_factory=dict, repr=False)
    current_pepper_id: str = DEFAULT_PEPPER_ID

    @property
    def pepper(self) -> bytes:
        if self.current_pepper_id not in self.peppers:
            raise ConfigurationError("set CONSENTRY_SUPPRESSION_PEPPER: the secret key of the suppression list hashes")
        return self.peppers[self.current_pepper_id]


def default_database_url(home: str | None = None) -> str:
    directory = Path(home or os.environ.get("CONSENTRY_HOME") or ".")
    return f"sqlite:///{directory / 'consentry.db'}"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings; CONSENTRY_SUPPRESSION_OLD_PEPPERS ("id:secret,id:secret") keeps rotated-out peppers."""
    env = os.environ if environ is None else environ
    current_id = env.get("CONSENTRY_SUPPRESSION_PEPPER_ID", DEFAULT_PEPPER_ID).strip()
    peppers: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in env.get("CONSENTRY_SUPPRESSION_OLD_PEPPERS", "").split(","))):
        pepper_id, separator, secret = item.partition(":")
        if not separator or not pepper_id or len(secret) < 16:
            raise ConfigurationError(
                "CONSENTRY_SUPPRESSION_OLD_PEPPERS must read id:secret,... with secrets of 16+ chars"
            )
        peppers[pepper_id] = secret.encode()
    secret = env.get("CONSENTRY_SUPPRESSION_PEPPER", "")
    if secret:
        if len(secret) < 16:
            raise ConfigurationError("CONSENTRY_SUPPRESSION_PEPPER must be at least 16 characters long")
        peppers[current_id] = secret.encode()
    url = env.get("CONSENTRY_DATABASE_URL") or default_database_url(env.get("CONSENTRY_HOME"))
    _check_database_url(url)
    return Settings(database_url=url, peppers=peppers, current_pepper_id=current_id)


def _check_database_url(url: str) -> None:
    """SQLite and PostgreSQL are the two backends the store is built and tested on."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError("CONSENTRY_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
