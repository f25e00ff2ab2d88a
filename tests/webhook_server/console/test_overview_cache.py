"""The overview's figures, kept a short while per process: computed once for many readers and threads, again once
they are `ttl` old or an operator's retry dropped them, and the page says when they were computed and what its
latency covers."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from consentry.sdk.store import propagation_jobs
from consentry.webhook_server.console.figures import FiguresCache, Overview

from .conftest import dead_job_id
from .test_console import signed_in, token

T = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


class Counting:
    """A compute function that counts its calls, optionally slow, optionally running `meanwhile` while it works."""

    def __init__(self, *, seconds: float = 0.0, meanwhile=None) -> None:
        self.calls: list[datetime] = []
        self.seconds = seconds
        self.meanwhile = meanwhile
        self._lock = threading.Lock()

    def __call__(self, at: datetime) -> Overview:
        with self._lock:
            self.calls.append(at)
        if self.meanwhile is not None:
            self.meanwhile()
        time.sleep(self.seconds)
        return Overview(at=at)


def test_figures_are_kept_for_their_ttl_and_computed_again_after_it():
    compute = Counting()
    cache = FiguresCache(compute, ttl=timedelta(seconds=30))
    first = cache.figures(now=T)
    assert cache.figures(now=T + timedelta(seconds=29)) is first
    assert compute.calls == [T]
    later = cache.figures(now=T + timedelta(seconds=30))
    assert later is not first
    assert later.at == T + timedelta(seconds=30)
    assert cache.figures(now=T + timedelta(seconds=10)) is not later  # a clock set back: not trusted, computed
    assert len(compute.calls) == 3


def test_a_drop_makes_the_next_page_compute_them_afresh():
    compute = Counting()
    cache = FiguresCache(compute)
    first = cache.figures(now=T)
    cache.drop()
    assert cache.figures(now=T + timedelta(seconds=1)) is not first
    assert compute.calls == [T, T + timedelta(seconds=1)]


def test_figures_begun_before_a_drop_are_shown_once_and_not_kept():
    """A retry committed while the figures were being read: they may predate it, so they are not kept."""
    holder: list[FiguresCache] = []
    compute = Counting(meanwhile=lambda: holder[0].drop() if len(compute.calls) == 1 else None)
    cache = FiguresCache(compute)
    holder.append(cache)
    begun = cache.figures(now=T)
    assert cache.figures(now=T + timedelta(seconds=1)) is not begun
    assert cache.figures(now=T + timedelta(seconds=2)).at == T + timedelta(seconds=1)  # that one was kept
    assert len(compute.calls) == 2


def test_sixteen_threads_asking_at_once_compute_the_figures_once():
    """gunicorn's 16 threads reloading a cold overview: one judges everyone, the others wait for its figures."""
    compute = Counting(seconds=0.2)
    cache = FiguresCache(compute)
    start = threading.Barrier(16)
    seen: list[Overview] = []

    def read() -> None:
        start.wait()
        seen.append(cache.figures())

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 16
    assert len(compute.calls) == 1
    assert all(figures is seen[0] for figures in seen)


def queue_count(page: str, status: str) -> int:
    found = re.search(rf">{status}(?:</a>)?</td><td class=\"n\">(\d+)</td>", page)
    assert found, status
    return int(found.group(1))


def test_the_page_says_when_its_figures_were_computed_and_what_the_latency_covers(console):
    before = datetime.now(UTC).replace(microsecond=0)
    page = signed_in(console, "vera").get("/console").text
    after = datetime.now(UTC)
    moment = re.search(r"As of (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", page)
    assert moment, "the page names the second its figures were computed"
    assert before <= datetime.strptime(moment.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) <= after
    assert "at most once every 30 seconds" in page
    assert "over the last 10000 opt-out jobs done in the last hour (erasures and the sync" in page


def test_a_reload_shows_the_kept_figures_and_an_operators_retry_shows_at_once(console):
    client = signed_in(console, "otto")
    assert queue_count(client.get("/console").text, "dead") == 1
    now = datetime.now(UTC)
    with console.extensions["consentry"].runtime.services.engine.begin() as connection:
        connection.execute(
            insert(propagation_jobs).values(
                event_key="alpha:c-2:email",
                source_system="alpha",
                target_system="beta",
                channel="email",
                status="failed",
                attempts=1,
                next_attempt_at=now,
                received_at=now,
                updated_at=now,
            )
        )
    assert queue_count(client.get("/console").text, "failed") == 0  # kept: nothing judged again
    job = dead_job_id(console)
    answer = client.post(f"/console/jobs/{job}/retry", data={"csrf_token": token(client, "/console/jobs")})
    assert answer.status_code == 302
    page = client.get("/console").text
    assert (queue_count(page, "dead"), queue_count(page, "pending"), queue_count(page, "failed")) == (0, 1, 1)


def test_the_blocked_table_is_the_reports_grouping_per_channel(console):
    page = signed_in(console, "vera").get("/console").text
    row = re.search(r"<code>GDPR_OBJECTION_ABSOLUTE</code>.*?</td>((?:<td class=\"n\">\d+</td>){4})</tr>", page, re.S)
    assert row, "the objection has its row"
    assert re.findall(r"\d+", row.group(1)) == ["0", "1", "0", "0"]  # email, sms, phone, post: her SMS only
