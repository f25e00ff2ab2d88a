"""`consentry users create` through the installed command: the password comes from standard input, is never
echoed, and is stored as a scrypt hash; a short password, an unknown role or a taken name write nothing."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from consentry.sdk.store import console_users

PASSWORD = "a-long-enough-password"


@pytest.fixture
def users(database_url, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENTRY_")}
    env |= {"CONSENTRY_HOME": str(tmp_path), "CONSENTRY_DATABASE_URL": database_url}

    def consentry(*arguments: str, password: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "consentry.sdk.cli", "users", *arguments]
        return subprocess.run(
            command, env=env, input=password + "\n", capture_output=True, text=True, timeout=60, cwd=tmp_path
        )

    return consentry


def accounts(engine) -> list:
    with engine.connect() as connection:
        return list(connection.execute(select(console_users)))


def test_an_account_is_created_with_its_password_hashed_and_never_echoed(users, engine):
    done = users("create", "ada", "--role", "operator", password=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert "ada" in done.stderr
    [account] = accounts(engine)
    assert (account.name, account.role, account.failed_attempts, account.locked_until) == ("ada", "operator", 0, None)
    assert account.password_hash.startswith("scrypt:")
    assert PASSWORD not in account.password_hash
    assert check_password_hash(account.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (("create", "ada", "--role", "viewer"), "eleven-char", "12 characters or more"),
        (("create", "ada", "--role", "viewer"), "", "12 characters or more"),
        (("create", "ada", "--role", "admin"), PASSWORD, "invalid choice"),
        (("create", "two words", "--role", "viewer"), PASSWORD, "without spaces"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(users, engine, arguments, password, message):
    refused = users(*arguments, password=password)
    assert refused.returncode != 0
    assert message in refused.stderr
    if password:
        assert password not in refused.stdout + refused.stderr
    assert accounts(engine) == []


def test_a_name_is_taken_once(users, engine):
    assert users("create", "ada", "--role", "viewer", password=PASSWORD).returncode == 0
    again = users("create", "ada", "--role", "operator", password="another-password-0")
    assert again.returncode != 0
    assert "exists already" in again.stderr
    [account] = accounts(engine)
    assert account.role == "viewer"
    assert check_password_hash(account.password_hash, PASSWORD)
