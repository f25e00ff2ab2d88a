"""`consentry serve` on SQLite: gunicorn and the inbox writer start together, and stop together."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from consentry.sdk.store import consent_events, make_engine, upgrade
from consentry.webhook_server.stack import free_port
from tests.conftest import fresh_postgres, service_url
from tests.processes import descendants, listening, socket_inodes, stop_group

TOKEN = "t" * 24
UNSUBSCRIBE = (
    "type=unsubscribe&fired_at=2026-11-23+10%3A00%3A00&data%5Blist_id%5D=a1b2c3d4e5&data%5Bid%5D=8a25ff1d98"
    "&data%5Bemail%5D=jeanne%40example.com"
)


def server_env(tmp_path, url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")},
        "CONSENTRY_HOME": str(tmp_path),
        "CONSENTRY_DATABASE_URL": url,
        "CONSENTRY_SUPPRESSION_PEPPER": "serve-test-pepper-0123456789",
        "CONSENTRY_CONNECTORS": "mailchimp",
        "CONSENTRY_MAILCHIMP_API_KEY": "0123456789abcdef0123456789abcdef-us1",
        "CONSENTRY_MAILCHIMP_LIST_ID": "a1b2c3d4e5",
        "CONSENTRY_MAILCHIMP_BASE_URL": "http://127.0.0.1:9/3.0",
        "CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN": TOKEN,
    }


def start_serve(
    tmp_path, url: str, workers: int = 1, *, settings: dict[str, str] | None = None, log: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """`consentry serve` on a free port, once it answers; `settings` over server_env's, its output to `log`."""
    upgrade(url)
    port = free_port()
    env = server_env(tmp_path, url) | (settings or {})
    command = [
        sys.executable,
        "-m",
        "consentry.sdk.cli",
        "serve",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    with open(log or os.devnull, "ab") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(  # its own process group, which stop_group stops whole
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return process, base


@pytest.fixture
def served(tmp_path, request):
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    process, base = start_serve(tmp_path, url, workers=getattr(request, "param", 1))
    yield process, base, url
    stop_group(process)  # killing the parent alone left gunicorn and the inbox writer listening


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def is_writer(pid: int) -> bool:
    return b"consentry.webhook_server.inbox_writer" in Path(f"/proc/{pid}/cmdline").read_bytes()


def post_unsubscribe(base: str, token: str = TOKEN, **headers) -> requests.Response:
    """Mailchimp's delivery of one unsubscribe."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    return requests.post(f"{base}/webhooks/mailchimp?token={token}", data=UNSUBSCRIBE, headers=headers, timeout=10)


def events_in(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        recorded = connection.execute(select(func.count()).select_from(consent_events)).scalar_one()
    engine.dispose()
    return recorded


@pytest.mark.integration
def test_serve_commits_through_its_writer_and_stops_when_the_writer_dies(served):
    process, base, url = served
    assert post_unsubscribe(base).status_code == 200
    assert events_in(url) == 1
    writer = next(pid for pid in children(process.pid) if is_writer(pid))
    os.kill(writer, signal.SIGKILL)
    assert process.wait(timeout=30) != 0  # a web server without its writer must not go on answering
    with pytest.raises(requests.RequestException):
        requests.get(f"{base}/healthz", timeout=2)


@pytest.mark.integration
def test_serve_stops_its_processes_on_sigterm(served):
    process, _, _ = served
    started = children(process.pid)
    assert len(started) == 2  # the writer and the gunicorn master
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)


def imported_wsgi(tmp_path, code: str, extra_env: dict[str, str] | None = None) -> str:
    """What `code` prints in a fresh process after importing gunicorn's entry point, on a migrated SQLite file;
    run from `tmp_path`, where the repository's folders are not importable: only the installed `consentry`."""
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(url)
    probe = f"import consentry.webhook_server.wsgi\n{code}"
    env = server_env(tmp_path, url) | (extra_env or {})
    shown = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return shown.stdout


@pytest.mark.parametrize(
    ("writer_process", "interval"),
    [(True, 0.005), (False, 0.0005)],  # Python's default; short when this process hosts the writer thread
)
def test_a_web_process_shortens_the_switch_interval_only_for_its_own_writer_thread(tmp_path, writer_process, interval):
    writer = {"CONSENTRY_INBOX_SOCKET": str(tmp_path / "inbox.sock"), "CONSENTRY_INBOX_KEY": "k" * 32}
    shown = imported_wsgi(tmp_path, "import sys; print(sys.getswitchinterval())", writer if writer_process else None)
    assert float(shown) == pytest.approx(interval)


def test_a_web_process_freezes_what_it_built_before_serving(tmp_path):
    """So that a full collection under load walks the requests' objects, not every import (a 100 ms pause)."""
    shown = imported_wsgi(tmp_path, "import gc; print(gc.get_freeze_count(), len(gc.get_objects()))")
    frozen, still_walked = map(int, shown.split())
    assert frozen > 10 * still_walked


def test_a_web_process_reads_the_rule_catalogue_before_its_first_request(tmp_path):
    """Read lazily, the catalogue's files made each process's first decision 60 ms slower, outside the freeze."""
    read = "(catalogue.reasons, catalogue.conditions, catalogue.facts)"
    shown = imported_wsgi(
        tmp_path, f"from consentry.sdk import catalogue; print(*(f.cache_info().currsize for f in {read}))"
    )
    assert shown.split() == ["1", "1", "1"]


@pytest.mark.integration
@pytest.mark.parametrize("served", [2], indirect=True)
def test_metrics_count_what_every_gunicorn_process_saw(served):
    """Whichever process answers the scrape, it shows the server's totals, not its own share."""
    _, base, _ = served
    for _ in range(30):  # a new connection each, so both processes take some
        assert post_unsubscribe(base, token="wrong", Connection="close").status_code == 401
    line = 'consentry_webhooks_rejected_total{connector="mailchimp",reason="verification"} 30.0'
    for _ in range(10):
        scrape = requests.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=10)
        assert line in scrape.text.splitlines()
        assert "consentry_queue_depth 0.0" in scrape.text  # the job table's figures are still there


def shared_counter_directory(pid: int) -> Path:
    environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
    return Path(environ["PROMETHEUS_MULTIPROC_DIR"])


@pytest.mark.integration
@pytest.mark.postgres
def test_serve_on_postgresql_runs_gunicorn_alone_and_cleans_up_on_sigterm(tmp_path):
    """No writer process (PostgreSQL takes concurrent writers); the counters' directory goes with the server."""
    url = fresh_postgres(service_url("postgres"))
    process, base = start_serve(tmp_path, url)
    try:
        started = children(process.pid)
        assert len(started) == 1
        assert not is_writer(started[0])
        assert post_unsubscribe(base).status_code == 200
        assert events_in(url) == 1
        counters = shared_counter_directory(started[0])
        assert counters.is_dir()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not Path(f"/proc/{started[0]}").exists()
        assert not counters.exists()
    finally:
        stop_group(process)


@pytest.mark.integration
def test_two_serves_each_keep_working_and_neither_opens_a_control_socket(tmp_path):
    """Gunicorn 25.1+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl):
    a second serve replaced the first one's. Serve turns it off; the only socket a serve listens on besides its
    address is its inbox writer's, in a private directory."""
    home = tmp_path / "home"
    home.mkdir()
    shared = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}  # both serves' default path: home/.gunicorn/gunicorn.ctl
    started = []
    try:
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            started.append(start_serve(tmp_path / name, f"sqlite:///{tmp_path / name / 'c.db'}", settings=shared))
        for process, base in started:
            assert post_unsubscribe(base).status_code == 200
            inodes = set().union(*(socket_inodes(key[1]) for key in descendants(process.pid)))
            unix = [socket for socket in listening(inodes).values() if socket.startswith("Unix")]
            assert len(unix) == 1
            assert unix[0].endswith("/inbox.sock")
        assert not (home / ".gunicorn").exists()
    finally:
        for process, _ in started:
            stop_group(process)
