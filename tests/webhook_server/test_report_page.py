"""The report page: its figures as written, each blocking reason with its title, legal sources and code per channel,
and labels escaped (they come from the data)."""

import csv
from collections import Counter
from datetime import UTC, datetime

from consentry.sdk.catalogue import reason
from consentry.webhook_server.report import CSV_COLUMNS, write


def figures() -> dict:
    return {
        "at": datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        "people": 42,
        "reach": {("email", "b2c"): Counter({"allowed": 30, "forbidden": 12})},
        "blocked": Counter(
            {
                ("FR_CONSENT_MISSING", "email"): 8,
                ("FR_CONSENT_MISSING", "sms"): 4,
                ("FR_PHONE_HOURS", "phone_human"): 5,
                ("<script>alert(1)</script>", "email"): 1,
            }
        ),
        "jobs": Counter({"done": 7, "dead": 1}),
        "routes": Counter({"hubspot → mailchimp": 8}),
        "latencies": [0.1, 0.2, 0.4],
        "retention": Counter({"delete": 3}),
    }


def rows(csv_path) -> list[dict]:
    with csv_path.open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_the_page_shows_the_figures_and_escapes_the_labels(tmp_path):
    html_path, csv_path = write(figures(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "2026-12-03 09:30 UTC, 42 people" in page
    assert '<td class="n">30</td><td class="n">0</td><td class="n">12</td>' in page
    assert "8 propagation jobs: dead 1, done 7." in page
    assert "p50 0.20 s, p99 0.40 s" in page
    assert ">FR_CONSENT_MISSING</text>" in page  # a code the catalogue does not know is its own label
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "3 contacts past their retention period" in page
    assert "blocked_by,FR_CONSENT_MISSING,,12" in csv_path.read_text(encoding="utf-8")


def test_blocking_reasons_are_shown_with_their_titles_sources_and_codes(tmp_path):
    html_path, csv_path = write(figures(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    info = reason("FR_PHONE_HOURS")
    assert f">{info.title}</text>" in page  # the chart's label is the title
    assert f"{info.title} <small><code>FR_PHONE_HOURS</code></small>" in page
    for source in info.sources:
        assert f'<a href="{source.url}">{source.title}</a>' in page
    assert '<th scope="rowgroup" rowspan="2">FR_CONSENT_MISSING <small><code>FR_CONSENT_MISSING</code>' in page
    assert "none recorded" in page  # an unknown code has no source to show
    [total] = [row for row in rows(csv_path) if row["section"] == "blocked_by" and row["key"] == "FR_PHONE_HOURS"]
    assert (total["subkey"], total["value"], total["channel"]) == (info.title, "5", "")
    assert all(source.title in total["legal_sources"] for source in info.sources)


def test_blocked_contacts_are_counted_per_reason_and_channel(tmp_path):
    html_path, csv_path = write(figures(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert '<th scope="col">channel</th><th scope="col" class="n">blocked contacts</th>' in page
    assert '<td>Email</td><td class="n">8</td></tr>' in page
    assert '<td>Text messages</td><td class="n">4</td></tr>' in page
    assert '<td>Phone calls</td><td class="n">5</td></tr>' in page
    captions = [page.index(f"<figcaption>{name}</figcaption>") for name in ("Email", "Text messages", "Phone calls")]
    assert captions == sorted(captions)  # a chart per channel, in the channels' order
    per_channel = [
        (row["key"], row["channel"], row["value"]) for row in rows(csv_path) if row["section"] == "blocked_by_channel"
    ]
    assert per_channel == [
        ("FR_CONSENT_MISSING", "email", "8"),
        ("FR_CONSENT_MISSING", "sms", "4"),
        ("FR_PHONE_HOURS", "phone_human", "5"),
        ("<script>alert(1)</script>", "email", "1"),
    ]


def test_the_csv_keeps_its_columns_and_adds_the_channel_and_the_legal_sources(tmp_path):
    _, csv_path = write(figures(), tmp_path)
    header = csv_path.read_text(encoding="utf-8").splitlines()[0]
    assert header == "section,key,subkey,value,channel,legal_sources"
    assert CSV_COLUMNS[:4] == ["section", "key", "subkey", "value"]
    sections = Counter(row["section"] for row in rows(csv_path))
    assert sections == {
        "reachability": 2,
        "blocked_by": 3,
        "blocked_by_channel": 4,
        "propagation_jobs": 2,
        "propagation_latency_seconds": 2,
        "retention_due": 1,
    }
    reach = [row for row in rows(csv_path) if row["section"] == "reachability"]
    assert [(row["key"], row["subkey"], row["channel"]) for row in reach] == [
        ("email", "b2c:allowed", "email"),
        ("email", "b2c:forbidden", "email"),
    ]


def test_a_report_with_nothing_blocked_says_so(tmp_path):
    quiet = figures() | {"blocked": Counter(), "routes": Counter()}
    html_path, _ = write(quiet, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "No contact is blocked." in page
    assert "0 propagation jobs." in write(quiet | {"jobs": Counter()}, tmp_path / "none")[0].read_text(encoding="utf-8")
    assert "Nothing to show." in page  # no route yet
