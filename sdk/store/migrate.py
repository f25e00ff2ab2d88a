"""Schema migrations with Alembic: `consentry db upgrade` creates or upgrades the schema, and every other command
that uses the database checks first that it is there and current (`require_current`), so that a newcomer is told
what to run rather than shown a traceback, and no empty database is left behind."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigurationError
from .engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
RUN_UPGRADE = "run `consentry db upgrade`"


class DatabaseUnreachable(ConfigurationError):
    """The database cannot be opened (a server down, a folder not mounted yet): it may come back by itself, unlike
    a database without its schema, which needs `consentry db upgrade`."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@dataclass(frozen=True)
class Upgraded:
    """What `upgrade` did: `before` is None for a database that had no schema."""

    before: str | None
    after: str | None


def upgrade(url: str, revision: str = "head") -> Upgraded:
    _require_folder(url)
    before = current_revision(url) if database_exists(url) else None
    command.upgrade(alembic_config(url), revision)
    return Upgraded(before, current_revision(url))


@cache
def head_revision() -> str | None:
    """The revision this version of Consentry needs: read from the migration scripts once per process."""
    return _scripts().get_current_head()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and for an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = str(parsed.database)
    return None if database.startswith("file:") else Path(database)


def _require_folder(url: str) -> None:
    """A SQLite file's folder is never created: a missing one is a wrong setting or a volume not mounted yet."""
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise DatabaseUnreachable(
            f"cannot open {describe(url)}: no folder {path.parent} "
            "(create it, or check CONSENTRY_HOME or CONSENTRY_DATABASE_URL)"
        )


def database_exists(url: str) -> bool:
    path = sqlite_path(url)
    return path is None or path.exists()


def describe(url: str) -> str:
    """The database in words, without the URL: a PostgreSQL URL carries its password."""
    path = sqlite_path(url)
    return f"the database at {path}" if path else "the database of CONSENTRY_DATABASE_URL"


def current_revision(url: str) -> str | None:
    """The database's schema revision (None without a schema), through one connection and one query."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:  # its text may quote the URL, password included
        raise DatabaseUnreachable(f"cannot open {describe(url)} ({type(error).__name__})") from None
    finally:
        engine.dispose()


def require_current(url: str) -> None:
    """ConfigurationError telling what to run unless the schema is there and at this version's revision. A SQLite
    file that does not exist is not created."""
    _require_folder(url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise ConfigurationError(f"no database at {path}: {RUN_UPGRADE} to create it")
    current, head = current_revision(url), head_revision()
    if current is None:
        raise ConfigurationError(f"{describe(url)} has no Consentry schema yet: {RUN_UPGRADE}")
    if current == head:
        return
    if current not in _known_revisions():
        raise ConfigurationError(
            f"{describe(url)} is at schema revision {current}, which this version of Consentry does not know "
            f"(it needs {head}): a newer version upgraded it"
        )
    raise ConfigurationError(
        f"{describe(url)} is at schema revision {current}, this version needs {head}: {RUN_UPGRADE}"
    )


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}
