"""A newcomer's first commands: before `consentry db upgrade`, a command that uses the database says to run it
(exit status 2) and creates nothing; `db upgrade` says what it did."""

import os
import sys

import pytest
from sqlalchemy import text

from consentry.sdk.cli import main
from consentry.sdk.store import make_engine, upgrade
from consentry.sdk.store.migrate import head_revision
from tests.conftest import fresh_postgres, service_url
from tests.processes import run_group

PEPPER = "first-run-pepper-0123456789"
RUN_UPGRADE = "run `consentry db upgrade`"
# A command of each family that uses the database, with what it needs to get that far.
STORE_COMMANDS = [
    ["ledger", "proof", "--email", "jane@example.com"],
    ["suppress", "check", "--email", "jane@example.com"],
    ["suppress", "export"],
    ["retention", "plan"],
    ["erase", "--email", "jane@example.com"],
    ["propagation", "failed"],
    ["api-key", "list"],
    ["rights", "list"],
    ["users", "create", "ada", "--role", "viewer"],
    ["report"],
    ["sync", "--dry-run"],
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty folder as CONSENTRY_HOME, where the default SQLite database would be."""
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    monkeypatch.setenv("CONSENTRY_SUPPRESSION_PEPPER", PEPPER)
    monkeypatch.delenv("CONSENTRY_DATABASE_URL", raising=False)
    monkeypatch.delenv("CONSENTRY_CONNECTORS", raising=False)
    return tmp_path


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_a_store_command_before_db_upgrade_says_to_run_it_and_creates_nothing(home, capsys, command):
    assert main([*command, "--output", str(home)] if command == ["report"] else command) == 2
    captured = capsys.readouterr()
    assert captured.err == f"consentry: no database at {home / 'consentry.db'}: {RUN_UPGRADE} to create it\n"
    assert captured.out == ""
    assert list(home.iterdir()) == []


def test_the_newcomer_sees_one_line_not_a_traceback(tmp_path):
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path), "CONSENTRY_SUPPRESSION_PEPPER": PEPPER}
    env.pop("CONSENTRY_DATABASE_URL", None)
    result = run_group(
        [sys.executable, "-m", "consentry.sdk.cli", "suppress", "check", "--email", "jane@example.com"],
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"consentry: no database at {tmp_path / 'consentry.db'}: {RUN_UPGRADE} to create it"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_the_server_and_the_worker_refuse_to_start_before_db_upgrade(tmp_path, command):
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path), "CONSENTRY_SUPPRESSION_PEPPER": PEPPER}
    env.pop("CONSENTRY_DATABASE_URL", None)
    result = run_group([sys.executable, "-m", "consentry.sdk.cli", command], env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert RUN_UPGRADE in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_db_upgrade_says_it_created_the_database_then_that_it_is_current(home, capsys):
    assert main(["db", "upgrade"]) == 0
    database = home / "consentry.db"
    assert capsys.readouterr().err == f"created the database at {database}, schema revision {head_revision()}\n"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().err == f"the database at {database} is already at schema revision {head_revision()}\n"
    assert main(["suppress", "check", "--email", "jane@example.com"]) == 0
    assert capsys.readouterr().out == "not suppressed\n"


def test_an_older_schema_is_named_and_db_upgrade_says_from_what_to_what(home, capsys):
    database = home / "consentry.db"
    upgrade(f"sqlite:///{database}", "0008")
    assert main(["rights", "list"]) == 2
    assert capsys.readouterr().err == (
        f"consentry: the database at {database} is at schema revision 0008, this version needs {head_revision()}: "
        f"{RUN_UPGRADE}\n"
    )
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().err == (
        f"upgraded the database at {database} from schema revision 0008 to {head_revision()}\n"
    )


def test_an_empty_sqlite_file_is_a_database_without_its_schema(home, capsys):
    (home / "consentry.db").touch()
    assert main(["ledger", "proof", "--email", "jane@example.com"]) == 2
    assert f"has no Consentry schema yet: {RUN_UPGRADE}" in capsys.readouterr().err


def test_a_schema_from_a_newer_version_is_named_as_such(home, capsys):
    url = f"sqlite:///{home / 'consentry.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    assert main(["suppress", "export"]) == 2
    err = capsys.readouterr().err
    assert "schema revision 9999, which this version of Consentry does not know" in err
    assert "a newer version upgraded it" in err


def test_a_database_in_a_folder_that_does_not_exist_is_named(home, monkeypatch, capsys):
    monkeypatch.setenv("CONSENTRY_HOME", str(home / "missing"))
    assert main(["suppress", "export"]) == 2
    assert capsys.readouterr().err == (
        f"consentry: cannot open the database at {home / 'missing' / 'consentry.db'}: no folder {home / 'missing'} "
        "(create it, or check CONSENTRY_HOME or CONSENTRY_DATABASE_URL)\n"
    )
    assert main(["db", "upgrade"]) == 2
    assert f"no folder {home / 'missing'} (create it" in capsys.readouterr().err
    assert list(home.iterdir()) == []


@pytest.mark.postgres
def test_an_empty_postgresql_database_is_named_without_its_url_then_upgraded(home, monkeypatch, capsys):
    url = fresh_postgres(service_url("postgres"))
    monkeypatch.setenv("CONSENTRY_DATABASE_URL", url)
    assert main(["suppress", "export"]) == 2
    err = capsys.readouterr().err
    assert err == f"consentry: the database of CONSENTRY_DATABASE_URL has no Consentry schema yet: {RUN_UPGRADE}\n"
    assert main(["db", "upgrade"]) == 0
    err = capsys.readouterr().err
    assert err == f"created the schema in the database of CONSENTRY_DATABASE_URL, schema revision {head_revision()}\n"
    assert main(["suppress", "export"]) == 0


def test_an_unreachable_postgresql_is_named_without_its_password(home, monkeypatch, capsys):
    monkeypatch.setenv("CONSENTRY_DATABASE_URL", "postgresql://consentry:s3cret-pass@127.0.0.1:1/consentry")
    assert main(["suppress", "export"]) == 2
    err = capsys.readouterr().err
    assert err == "consentry: cannot open the database of CONSENTRY_DATABASE_URL (OperationalError)\n"
    assert "s3cret" not in err
