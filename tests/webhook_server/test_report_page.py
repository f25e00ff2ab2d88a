"""The report page: its figures as written, and labels escaped (they come from the data)."""

from collections import Counter
from datetime import UTC, datetime

from consentry.sdk.catalogue import reason
from consentry.webhook_server.report import write


def figures() -> dict:
    return {
        "at": datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        "people": 42,
        "reach": {("email", "b2c"): Counter({"allowed": 30, "forbidden": 12})},
        "blockers": Counter({"FR_CONSENT_MISSING": 12, "FR_PHONE_HOURS": 5, "<script>alert(1)</script>": 1}),
        "jobs": Counter({"done": 7, "dead": 1}),
        "routes": Counter({"hubspot → mailchimp": 8}),
        "latencies": [0.1, 0.2, 0.4],
        "retention": Counter({"delete": 3}),
    }


def test_the_page_shows_the_figures_and_escapes_the_labels(tmp_path):
    html_path, csv_path = write(figures(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "2026-12-03 09:30 UTC, 42 people" in page
    assert "<td>30</td><td>0</td><td>12</td>" in page
    assert "8 propagation jobs: dead 1, done 7." in page
    assert "p50 0.20 s, p99 0.40 s" in page
    assert ">FR_CONSENT_MISSING</text>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "3 contacts past their retention period" in page
    assert "blocked_by,FR_CONSENT_MISSING,,12" in csv_path.read_text(encoding="utf-8")


def test_blocking_reasons_are_shown_with_their_titles(tmp_path):
    html_path, csv_path = write(figures(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    title = reason("FR_PHONE_HOURS").title
    assert f'<tr><th scope="row">FR_PHONE_HOURS</th><td>{title}</td><td>5</td></tr>' in page
    assert f"blocked_by,FR_PHONE_HOURS,{title},5" in csv_path.read_text(encoding="utf-8")
    unknown = '<tr><th scope="row">FR_CONSENT_MISSING</th><td></td><td>12</td></tr>'  # a code not in the catalogue
    assert unknown in page
