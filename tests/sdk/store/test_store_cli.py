"""The store commands end to end, through the installed `consentry` script, on a SQLite file."""

import json
import os
import subprocess
import sys

import pytest

PEPPER = "cli-test-pepper-0123456789"


@pytest.fixture
def run(tmp_path):
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path), "CONSENTRY_SUPPRESSION_PEPPER": PEPPER}
    env.pop("CONSENTRY_DATABASE_URL", None)

    def consentry(*arguments: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "consentry.sdk.cli", *arguments]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    assert consentry("db", "upgrade").returncode == 0
    return consentry


def test_suppress_add_check_export_import(run, tmp_path):
    assert run("suppress", "add", "--email", "Jane@Example.com", "--channels", "email").returncode == 0
    assert run("suppress", "check", "--email", "jane@example.com").returncode == 1
    assert run("suppress", "check", "--email", "john@example.com").returncode == 0
    exported = run("suppress", "export", "--output", str(tmp_path / "list.csv"))
    assert exported.returncode == 0
    assert "jane" not in (tmp_path / "list.csv").read_text()
    (tmp_path / "clear.txt").write_text("a@example.com\nb@example.com\n")
    assert run("suppress", "import", str(tmp_path / "clear.txt"), "--clear", "email").returncode == 0
    assert run("suppress", "check", "--email", "b@example.com").returncode == 1


def test_ledger_record_and_proof(run):
    recorded = run(
        "ledger",
        "record",
        "--email",
        "jane@example.com",
        "--key",
        "form-1",
        "--kind",
        "granted",
        "--channel",
        "email",
        "--advertiser",
        "acme",
        "--occurred-at",
        "2026-05-01T10:00:00+02:00",
        "--method",
        "double_opt_in",
        "--collection-point",
        "https://shop.example/form",
        "--wording",
        "Oui",
        "--wording-version",
        "v3",
    )
    assert recorded.returncode == 0, recorded.stderr
    proof = json.loads(run("ledger", "proof", "--email", "jane@example.com").stdout)
    assert proof["events"][0]["wording_version"] == "v3"
    assert proof["states"][0]["status"] == "granted"


def test_erase_then_the_person_is_suppressed_and_gone(run):
    run(
        "ledger",
        "record",
        "--email",
        "jane@example.com",
        "--key",
        "k",
        "--kind",
        "granted",
        "--channel",
        "email",
        "--advertiser",
        "acme",
        "--occurred-at",
        "2026-05-01T10:00:00Z",
        "--method",
        "imported",
    )
    erased = run("erase", "--email", "jane@example.com")
    assert erased.returncode == 0
    assert "jane" not in erased.stderr + erased.stdout
    assert run("suppress", "check", "--email", "jane@example.com").returncode == 1
    assert json.loads(run("ledger", "proof", "--email", "jane@example.com").stdout)["person"] is None


@pytest.mark.parametrize(
    "arguments",
    [
        ("suppress", "add", "--email", "not-an-email"),
        ("suppress", "add", "--phone", "123"),
        ("suppress", "add", "--email", "a@example.com", "--channels", "pigeon"),
        (
            "ledger",
            "record",
            "--email",
            "a@example.com",
            "--key",
            "k",
            "--kind",
            "regranted",
            "--channel",
            "email",
            "--advertiser",
            "acme",
            "--occurred-at",
            "2026-05-01T10:00:00Z",
        ),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(run, tmp_path, arguments):
    result = run(*arguments)
    assert result.returncode == 2
    assert result.stderr.startswith("consentry: ")
    assert "Traceback" not in result.stderr
    exported = run("suppress", "export")
    assert exported.stdout.count("\n") == 1  # the header only


def consentry_in(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "consentry.sdk.cli", *arguments], env=env, capture_output=True, text=True, timeout=60
    )


def test_without_a_pepper_the_suppression_commands_refuse_to_run(tmp_path):
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path)}
    env.pop("CONSENTRY_SUPPRESSION_PEPPER", None)
    env.pop("CONSENTRY_DATABASE_URL", None)
    upgraded = subprocess.run(  # the schema needs no pepper
        [sys.executable, "-m", "consentry.sdk.cli", "db", "upgrade"], env=env, capture_output=True, timeout=60
    )
    assert upgraded.returncode == 0
    result = consentry_in(env, "suppress", "check", "--email", "a@example.com")
    assert result.returncode == 2
    assert "CONSENTRY_SUPPRESSION_PEPPER" in result.stderr


def test_an_export_the_store_refuses_leaves_no_output_file(tmp_path):
    """The store is opened before the file: a missing database must not leave an empty list where one was asked for."""
    env = {**os.environ, "CONSENTRY_HOME": str(tmp_path), "CONSENTRY_SUPPRESSION_PEPPER": "p" * 32}
    env.pop("CONSENTRY_DATABASE_URL", None)
    output = tmp_path / "list.csv"
    result = consentry_in(env, "suppress", "export", "--output", str(output))
    assert result.returncode == 2
    assert "consentry db upgrade" in result.stderr
    assert not output.exists()
