"""`consentry api-key create|list|revoke` through the installed command, on each backend."""

import os
import subprocess
import sys

import pytest

from consentry.webhook_server.api.store import find_key


@pytest.fixture
def run(database_url, tmp_path):
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path), "CONSENTRY_DATABASE_URL": database_url}
    env.pop("CONSENTRY_SUPPRESSION_PEPPER", None)  # keys need the database alone

    def consentry(*arguments: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "consentry.sdk.cli", "api-key", *arguments]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    return consentry


def test_the_last_line_is_the_key_which_the_api_then_finds(run, engine):
    made = run("create", "dialer", "--scopes", "calls,decide")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) >= 2
    key = lines[-1]
    assert key.startswith("csk_")
    assert key == key.strip()
    assert key not in lines[0]
    found = find_key(engine, key)
    assert found is not None
    assert found.name == "dialer"
    assert found.scopes == {"calls", "decide"}
    assert key not in made.stderr


def test_list_shows_names_scopes_and_dates_never_a_key(run):
    key = run("create", "forms", "--scopes", "record,read_proof").stdout.splitlines()[-1]
    run("create", "platform", "--scopes", "decide")
    assert run("revoke", "platform").returncode == 0
    listed = run("list")
    assert listed.returncode == 0
    forms, platform = listed.stdout.splitlines()
    assert forms.split("\t")[:2] == ["forms", "read_proof,record"]
    assert forms.endswith("revoked -")
    assert platform.startswith("platform\tdecide\tcreated ")
    assert "revoked 2" in platform
    assert key not in listed.stdout
    assert key.removeprefix("csk_") not in listed.stdout


def test_a_revoked_key_stops_working_and_an_unknown_name_is_an_error(run, engine):
    key = run("create", "old", "--scopes", "decide").stdout.splitlines()[-1]
    assert run("revoke", "old").returncode == 0
    assert find_key(engine, key) is None
    unknown = run("revoke", "never-made")
    assert unknown.returncode == 1
    assert "never-made" in unknown.stderr


@pytest.mark.parametrize("scopes", ["admin", "decide,everything", ""])
def test_an_unknown_scope_is_refused_and_no_key_is_printed(run, scopes):
    made = run("create", "dialer", "--scopes", scopes)
    assert made.returncode == 2
    assert "scope" in made.stderr
    assert "csk_" not in made.stdout
    assert run("list").stdout == ""


def test_a_name_in_use_is_refused(run):
    assert run("create", "dialer", "--scopes", "calls").returncode == 0
    again = run("create", "dialer", "--scopes", "calls")
    assert again.returncode == 2
    assert "csk_" not in again.stdout
