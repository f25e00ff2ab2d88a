"""`consentry rights request|extend|list|show` through the installed command, on each backend: the last line of a
request is `ID DUE-DATE`; a refused request records nothing; no address or number is ever printed."""

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from consentry.sdk.store import propagation_jobs, rights_requests

EMAIL = "demandeuse@example.com"


@pytest.fixture
def run(database_url, tmp_path, engine):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENTRY_")}
    env |= {
        "CONSENTRY_HOME": str(tmp_path),
        "CONSENTRY_DATABASE_URL": database_url,
        "CONSENTRY_SUPPRESSION_PEPPER": "a-pepper-for-tests-only-0123456789",
    }

    def consentry(*arguments: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "consentry.sdk.cli", "rights", *arguments]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    return consentry


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_request_prints_its_id_and_due_date_last_and_is_shown_as_json(run):
    made = run("request", "erasure", "--email", EMAIL, "--received-at", "2026-01-31T10:00:00", "--verified-by", "call")
    assert made.returncode == 0, made.stderr
    request_id, due = made.stdout.splitlines()[-1].split(" ")
    assert due == "2026-02-28"
    assert EMAIL not in made.stdout + made.stderr
    shown = run("show", request_id, "--json")
    answer = json.loads(shown.stdout)
    assert {key: answer[key] for key in ("id", "kind", "status", "due")} == {
        "id": int(request_id),
        "kind": "erasure",
        "status": "open",
        "due": "2026-02-28",
    }
    assert answer["systems"] == {"consentry": "open"}  # no CRM connected: Consentry's own erasure is next
    assert EMAIL not in shown.stdout


def test_without_verification_the_request_is_recorded_and_says_so(run):
    made = run("request", "access", "--phone", "+33612345678")
    assert made.returncode == 0, made.stderr
    assert "not checked" in made.stdout
    request_id = made.stdout.splitlines()[-1].split(" ")[0]
    assert "identity: not checked" in run("show", request_id).stdout
    assert "+33612345678" not in made.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ["request", "deletion", "--email", EMAIL],  # outside the vocabulary
        ["request", "erasure"],  # nobody named
        ["request", "erasure", "--email", "not-an-address"],
        ["request", "erasure", "--email", EMAIL, "--received-at", "yesterday"],
        ["request", "erasure", "--email", EMAIL, "--received-at", "2099-01-01T00:00:00+00:00"],  # in the future
        ["request", "erasure", "--email", EMAIL, "--received-at", "0001-01-01T00:00:00+05:00"],  # before the GDPR
        ["request", "erasure", "--email", EMAIL, "--verified-by", " "],
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_records_nothing(run, engine, arguments):
    refused = run(*arguments)
    assert refused.returncode == 2
    assert refused.stderr.strip()
    assert "Traceback" not in refused.stderr
    assert count(engine, rights_requests) == 0
    assert count(engine, propagation_jobs) == 0


def test_a_request_is_extended_once_by_two_months(run):
    request_id = run("request", "access", "--email", EMAIL, "--received-at", "2026-03-10T09:00:00+01:00")
    request_id = request_id.stdout.splitlines()[-1].split(" ")[0]
    extended = run("extend", request_id, "--reason", "the person holds records in seven systems")
    assert extended.returncode == 0, extended.stderr
    assert extended.stdout.splitlines()[-1] == f"{request_id} 2026-06-10"
    again = run("extend", request_id, "--reason", "still more")
    assert again.returncode == 2
    assert "once" in again.stderr
    assert json.loads(run("show", request_id, "--json").stdout)["due"] == "2026-06-10"
    assert run("extend", "999", "--reason", "x").returncode == 2


def test_list_puts_overdue_requests_first_and_filters_them(run):
    paris_today = datetime.now(ZoneInfo("Europe/Paris")).date()
    long_ago = (paris_today - timedelta(days=70)).isoformat() + "T10:00:00"
    recent = run("request", "objection", "--email", "recent@example.com").stdout.splitlines()[-1].split(" ")[0]
    late = run("request", "access", "--email", EMAIL, "--received-at", long_ago).stdout.splitlines()[-1].split(" ")[0]
    listed = run("list").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == [late, recent]
    assert "OVERDUE" in listed[0]
    overdue = run("list", "--overdue").stdout.splitlines()
    assert [line.split("\t")[0] for line in overdue] == [late]
    assert date.fromisoformat(json.loads(run("show", late, "--json").stdout)["due"]) < paris_today
    done = run("list", "--status", "done").stdout.splitlines()
    assert [line.split("\t")[0] for line in done] == [recent]  # an objection with no other system: done at once
    assert EMAIL not in run("list").stdout
