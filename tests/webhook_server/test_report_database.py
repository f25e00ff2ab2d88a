"""The report from a real database whose contacts are blocked on several channels for several reasons: titles, a
channel column, charts that scale to the page with labels that never overlap, in the markup and in Chromium at
700 and 1,400 px wide."""

import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import insert

from consentry.sdk.catalogue import reason_title
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import propagation_jobs
from consentry.webhook_server.report import gather, write
from consentry.webhook_server.sync import run_sync

from .console.test_figures import done_job
from .memory_crm import RECORDS, Record
from .test_charts import browser, full_page_screenshot, measure_labels

T = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # after 11 August 2026: consumer calls need prior consent
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def figures(memory_runtime):
    """Five consumers subscribed to email in a CRM, one of them on the suppression list for every channel."""
    for number in range(5):
        RECORDS[f"c-{number}"] = Record(f"person{number}@example.com", T)
    run_sync(memory_runtime, now=T + timedelta(minutes=1))
    memory_runtime.services.suppression.add(
        IdentifierKind.EMAIL, "person0@example.com", channels="all", reason_code="IMPORTED"
    )
    return gather(memory_runtime.services.engine, memory_runtime.services.ledger, advertiser="default", at=T)


@pytest.fixture
def report(figures, tmp_path):
    html_path, csv_path = write(figures, tmp_path / "report")
    return html_path, csv_path


def svgs(page: str) -> list[ElementTree.Element]:
    """Every inline SVG of the page, parsed on its own."""
    return [ElementTree.fromstring("<svg" + part.split("</svg>")[0] + "</svg>") for part in page.split("<svg")[1:]]


def test_blocked_contacts_are_counted_per_reason_and_channel(figures):
    assert figures["blocked"][("FR_SMS_B2C_CONSENT_REQUIRED", "sms")] == 5
    assert figures["blocked"][("FR_PHONE_B2C_OPTIN_2026", "phone_human")] == 5
    for channel in ("email", "sms", "phone_human", "postal"):
        assert figures["blocked"][("FR_SUPPRESSION_LIST_HIT", channel)] == 1


def test_the_page_names_every_reason_by_its_title_with_a_channel_column(report, figures):
    html_path, csv_path = report
    page = html_path.read_text(encoding="utf-8")
    for code in {code for code, _ in figures["blocked"]}:
        assert reason_title(code)
        assert f"{reason_title(code)} <small><code>{code}</code></small>" in page
    assert '<td>Text messages</td><td class="n">5</td>' in page
    assert '<td>Phone calls</td><td class="n">5</td>' in page
    written = csv_path.read_text(encoding="utf-8")
    assert (
        f"blocked_by_channel,FR_SMS_B2C_CONSENT_REQUIRED,{reason_title('FR_SMS_B2C_CONSENT_REQUIRED')},5,sms,"
        in written
    )
    assert "@" not in written + page


def test_every_chart_scales_to_the_page_and_its_labels_never_share_a_line(report):
    page = report[0].read_text(encoding="utf-8")
    charts = svgs(page)
    assert len(charts) == 5  # reachability and a chart per channel with blocked contacts (no route yet)
    for svg in charts:
        assert svg.get("viewBox")
        assert svg.get("width") == "100%"
        assert svg.get("height") is None
        font_size = float(svg.get("font-size"))
        ys = sorted(float(text.get("y")) for text in svg.iter(f"{SVG}text"))
        assert ys
        assert all(later - earlier >= font_size for earlier, later in pairwise(ys))
    assert "px" not in "".join(page.split("<svg")[1:])


@pytest.fixture
def chromium():
    with browser() as driver:
        yield driver


@pytest.mark.integration
@pytest.mark.parametrize("width", [700, 1400])
def test_in_a_browser_no_two_labels_meet_at_700_and_1400_pixels(report, chromium, tmp_path, width):
    measured = measure_labels(chromium, report[0].as_uri(), width)
    assert measured["texts"] > 20
    assert measured["overlaps"] == []
    assert measured["outside"] == []
    assert 11 <= measured["smallest"] <= measured["largest"] <= 20  # readable, neither tiny nor shouting
    screenshot = full_page_screenshot(chromium, tmp_path / f"report-{width}.png")
    assert screenshot.stat().st_size > 10_000


def test_the_report_counts_every_job_but_times_only_the_months_opt_outs(memory_runtime, tmp_path):
    """Counts and routes cover the whole job table (counted by the database); the latency covers the opt-out jobs
    done in the 30 days before the report, erasures and the sync's pushes aside, and the page says so."""
    services = memory_runtime.services
    day = 86_400
    jobs = [
        done_job("recent-1", latency=2.0, done_ago=1 * day),
        done_job("recent-2", latency=3.0, done_ago=29 * day),
        done_job("last-year", latency=500.0, done_ago=365 * day),
        done_job("erased", latency=1.0 * day, done_ago=2 * day, action="erase"),
        done_job("synced", latency=0.0, done_ago=3600, source="sync"),
    ]
    with services.engine.begin() as connection:
        connection.execute(insert(propagation_jobs), jobs)
    figures = gather(services.engine, services.ledger, advertiser="default")
    assert figures["latencies"] == [2.0, 3.0]
    assert figures["jobs"] == Counter({"done": 5})
    assert figures["routes"] == Counter({"alpha → beta": 4, "sync → beta": 1})
    html_path, csv_path = write(figures, tmp_path / "report")
    assert "opt-out jobs done in the last 30 days (erasures and the sync" in html_path.read_text()
    assert "propagation_latency_seconds,p99,,3.0" in csv_path.read_text()
