"""The ingestion bench's durable floor does what its numbers claim (each delivery's event and jobs committed before
the 200, nothing for a refused or replayed one), and the bench itself runs: briefly, and only where wrk is."""

import importlib.util
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.test import Client

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
TOKEN = "floor-token"
LIST_ID = "a1b2c3d4e5"


@pytest.fixture(params=["group", "each"])
def floor(request, tmp_path, monkeypatch):
    """The floor application, loaded fresh with its settings (it reads them at import, as under gunicorn)."""
    database = tmp_path / "floor.db"
    monkeypatch.setenv("FLOOR_DATABASE", str(database))
    monkeypatch.setenv("FLOOR_TOKEN", TOKEN)
    monkeypatch.setenv("FLOOR_LIST_ID", LIST_ID)
    monkeypatch.setenv("FLOOR_TARGETS", "hubspot,salesforce")
    monkeypatch.setenv("FLOOR_COMMIT", request.param)
    spec = importlib.util.spec_from_file_location("durable_floor_under_test", BENCHMARKS / "durable_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.create_schema(str(database))
    return module, database


def deliver(client: Client, record: str, *, token: str = TOKEN, list_id: str = LIST_ID) -> int:
    body = f"type=unsubscribe&fired_at=2026-12-03+10:00:00&data[list_id]={list_id}&data[id]={record}"
    body += f"&data[email]={record}%40example.com"
    response = client.post(
        f"/webhooks/mailchimp?token={token}", data=body, content_type="application/x-www-form-urlencoded"
    )
    return response.status_code


def counts(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database) as connection:
        return tuple(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("events", "jobs"))


def test_floor_commits_the_event_and_its_jobs_before_answering(floor):
    module, database = floor
    client = Client(module.app)
    assert deliver(client, "a") == 200
    assert counts(database) == (1, 2)
    assert deliver(client, "a") == 200  # a replay adds nothing
    assert counts(database) == (1, 2)
    assert deliver(client, "b", token="wrong") == 403
    assert deliver(client, "c", list_id="another") == 400
    assert counts(database) == (1, 2)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_floor_groups_concurrent_deliveries_without_losing_one(floor):
    module, database = floor
    statuses = []

    def send(number: int) -> None:
        statuses.append(deliver(Client(module.app), f"t{number}"))

    threads = [threading.Thread(target=send, args=(number,)) for number in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 24
    assert counts(database) == (24, 48)


def test_bench_help_runs():
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_ingest.py"), "--help"], capture_output=True, text=True, check=True
    )
    assert "--json" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("wrk"), reason="needs wrk (apt-get install wrk); CI does not install it")
def test_bench_json_names_the_floor_the_route_and_bare():
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_ingest.py"), "--json", "--duration", "1", "--rounds", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"floor_rps", "route_rps", "route_p99_ms", "bare_rps"}
    assert all(value > 0 for value in figures.values())
    assert set(re.findall(r"non-2xx (\d+)", result.stderr)) == {"0"}
