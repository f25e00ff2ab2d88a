"""`consentry demo`, the README's first command, as a newcomer runs it."""

import os
import re
import socket
import sys
import tempfile

import pytest

from consentry.webhook_server import demo
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
    checks = [line.split(":", 1)[1] for line in out.splitlines() if "pre-call check" in line]
    assert [check.split()[0] for check in checks[::2]] == ["forbidden", "forbidden"]  # no consent; after a refusal
    # with the consent: allowed, at the call's planned time inside the calling hours, whenever the demo runs
    assert checks[1].split()[0] == "allowed_with_conditions"
    assert "FR_SUPPRESSION_LIST_HIT" in checks[2]
    assert re.search(r"web form consent recorded: +201", out)
    seconds = int(re.search(r"Done in (\d+) s", out).group(1))
    assert seconds < 120
    assert out.splitlines()[-1] == proved_line(out)
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


def proved_line(out: str) -> str:
    """The last line the demo should print, from the figures it printed before: the slowest arrival of an opt-out in
    another system than the one it was made in, and the pre-call check's three answers."""
    slowest = 0.0
    for line in out.splitlines():
        if "unsubscribe:" in line:
            source = line.split()[0]
            arrivals = re.findall(r"(mailchimp|hubspot|salesforce) (\d+\.\d\d) s", line)
            slowest = max([slowest, *(float(seconds) for system, seconds in arrivals if system != source)])
    answers = [line.split(":", 1)[1].split()[0] for line in out.splitlines() if "pre-call check" in line]
    return (
        "Proved: each of 4 opt-outs (in mailchimp, in hubspot, in salesforce, by a one-click link) reached every other "
        f"system within {slowest:.2f} s; the dialer's pre-call check answered {answers[0]} without consent, "
        f"{answers[1]} with a consent recorded through the API, and {answers[2]} after the refusal it reported."
    )


def test_the_last_line_says_what_was_proved_from_the_figures():
    reached = {
        "mailchimp": {"mailchimp": 0.01, "hubspot": 0.8, "salesforce": 1.5},
        "link": {"hubspot": 0.4, "mailchimp": 0.6, "salesforce": 0.9},
    }
    line, everywhere = demo.proved(
        reached, ["hubspot", "mailchimp", "salesforce"], ["forbidden", "allowed", "forbidden"]
    )
    assert everywhere
    assert line == (
        "Proved: each of 2 opt-outs (in mailchimp, by a one-click link) reached every other system within 1.50 s; "
        "the dialer's pre-call check answered forbidden without consent, allowed with a consent recorded through "
        "the API, and forbidden after the refusal it reported."
    )


def test_the_last_line_says_what_was_not_proved():
    reached = {
        "hubspot": {"hubspot": 0.01, "mailchimp": 0.5},
        "link": {"hubspot": 0.4, "mailchimp": 0.6, "salesforce": 0.9},
    }
    line, everywhere = demo.proved(
        reached, ["hubspot", "mailchimp", "salesforce"], ["forbidden", "allowed", "forbidden"]
    )
    assert not everywhere
    assert line == "Not proved: the opt-out made in hubspot had not reached salesforce after 30 s."


def test_the_demo_without_home_leaves_no_folder_behind(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = run_group(
        [sys.executable, "-m", "consentry.sdk.cli", "demo", "--people", "200"],
        env={**os.environ, "TMPDIR": str(temporary)},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Consentry demo in {temporary}" in result.stdout  # it did work in the folder we watch
    assert list(temporary.iterdir()) == []
    # the report is not announced at a path that is gone when the demo ends
    report = result.stdout.split("\nReport: ", 1)[1].splitlines()
    assert str(temporary) not in "\n".join(report[:2])
    assert "--home DIR" in report[1]


def test_a_demo_that_fails_half_way_removes_its_temporary_folder_too(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    homes = []

    def failing(*, people, home, out, kept):
        homes.append(home)
        (home / "consentry.db").write_bytes(b"half-written")
        raise RuntimeError("the webhook server did not start")

    monkeypatch.setattr(demo, "_run", failing)
    with pytest.raises(RuntimeError):
        demo.run_demo(people=10, out=lambda _line: None)
    assert homes
    assert homes[0].parent == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_a_demo_given_a_home_keeps_it_even_when_it_fails(tmp_path, monkeypatch):
    def failing(*, people, home, out, kept):
        (home / "server.log").write_text("what went wrong")
        raise RuntimeError("the webhook server did not start")

    monkeypatch.setattr(demo, "_run", failing)
    home = tmp_path / "kept"
    home.mkdir()
    with pytest.raises(RuntimeError):
        demo.run_demo(people=10, home=home, out=lambda _line: None)
    assert (home / "server.log").read_text() == "what went wrong"
