"""One drain per target: arrivals during a drain share its next call, calls are paced, no request is lost."""

import itertools
import threading
from types import SimpleNamespace

from consentry.sdk.http import ConcurrencyLimiter, RateLimiter
from consentry.webhook_server.draining import WINDOW_SHARE, Drains, spacing_of


class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 100.0, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_a_drain_calls_until_nothing_is_due_and_counts_what_it_handled():
    batches = [3, 2, 0]
    drains = Drains()
    assert drains.run("hubspot", lambda: batches.pop(0)) == 5
    assert batches == []


def test_calls_to_a_target_start_spacing_seconds_apart():
    time = FakeTime()
    drains = Drains(clock=time.clock, sleep=time.sleep)
    starts = []

    def apply_batch():
        starts.append(time.now)
        time.now += 0.01  # the call itself
        return 1 if len(starts) < 4 else 0

    drains.run("hubspot", apply_batch, spacing=0.1)
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.1, 0.1, 0.1]
    drains.run("salesforce", lambda: 0, spacing=0.1)  # another target has its own pace
    assert time.sleeps == [0.09, 0.09, 0.09]


def test_a_request_during_a_drain_returns_at_once_and_the_drainer_looks_again():
    drains = Drains()
    inside, release = threading.Event(), threading.Event()
    due = {"jobs": 1}
    calls = []

    def apply_batch():
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            inside.set()
            release.wait(5)
        found, due["jobs"] = due["jobs"], 0
        return found

    first = threading.Thread(target=lambda: drains.run("hubspot", apply_batch), name="first")
    first.start()
    assert inside.wait(5)
    due["jobs"] = 1  # a new opt-out arrives while the first drain is calling the vendor
    assert drains.run("hubspot", apply_batch) == 0  # the second request does not call: it asks the drainer
    release.set()
    first.join(5)
    assert due["jobs"] == 0
    assert set(calls) == {"first"}


def test_a_request_that_arrives_after_the_drainers_last_look_is_not_lost():
    """The drainer has just found nothing due when a new opt-out's request arrives and finds the target busy."""
    drains = Drains()
    due = {"jobs": 1}
    looks = []

    def arrival():
        due["jobs"] += 1
        assert drains.run("hubspot", apply_batch) == 0  # busy: it only asks the drainer to look again

    def apply_batch():
        found, due["jobs"] = due["jobs"], 0
        looks.append(found)
        if len(looks) == 2:  # the drainer's last look, found empty; the request comes in before it lets go
            helper = threading.Thread(target=arrival)
            helper.start()
            helper.join(5)
        return found

    assert drains.run("hubspot", apply_batch) == 2
    assert due["jobs"] == 0
    assert looks == [1, 0, 1, 0]


def test_spacing_uses_a_share_of_a_rolling_window_and_nothing_else():
    hubspot = SimpleNamespace(transport=SimpleNamespace(limiter=RateLimiter(190, 10.0)))
    mailchimp = SimpleNamespace(transport=SimpleNamespace(limiter=ConcurrencyLimiter(10)))
    assert spacing_of(hubspot) == 10.0 / (190 * WINDOW_SHARE)
    assert spacing_of(mailchimp) == 0.0
    assert spacing_of(None) == 0.0
