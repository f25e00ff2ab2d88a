"""`consentry demo`, the README's first command, as a newcomer runs it."""

import re
import socket
import sys

import pytest

from tests.processes import run_group

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_demo_shows_every_opt_out_everywhere_writes_the_report_and_leaves_nothing_running(tmp_path):
    result = run_group(  # a timeout stops the servers the demo started too, not the demo alone
        [sys.executable, "-m", "consentry.sdk.cli", "demo", "--people", "600", "--home", str(tmp_path)], timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "600 people" in out
    unsubscribes = [line for line in out.splitlines() if "unsubscribe:" in line]
    assert len(unsubscribes) == 4
    for line in unsubscribes:
        assert "NOT everywhere" not in line
        assert {"mailchimp", "hubspot", "salesforce"} <= set(re.findall(r"(mailchimp|hubspot|salesforce) \d", line))
    seconds = int(re.search(r"Done in (\d+) s", out).group(1))
    assert seconds < 120
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html
    assert "Why contacts are blocked" in html
    csv = (tmp_path / "report.csv").read_text()
    assert "propagation_latency_seconds,p99" in csv
    assert "@" not in csv
    for url in re.findall(r"http://127\.0\.0\.1:\d+", out):  # the server and the sandboxes are gone
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as probe:
            assert probe.connect_ex((host, int(port))) != 0, url
