"""The API's in-process rate counters: limits' fixed windows, swept by passing requests instead of a timer thread
started every 10 ms."""

import threading
import time

import limits.storage.memory
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from consentry.webhook_server.api import rate_storage
from consentry.webhook_server.api.rate_storage import SweptMemoryStorage, storage_uri


def test_memory_means_the_swept_counters_and_other_storages_are_kept():
    assert isinstance(storage_from_string(storage_uri("memory://")), SweptMemoryStorage)
    assert storage_uri("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_counting_starts_no_thread_per_request(monkeypatch):
    started: list[threading.Timer] = []

    class CountedTimer(threading.Timer):
        def start(self):
            started.append(self)
            super().start()

    monkeypatch.setattr(limits.storage.memory.threading, "Timer", CountedTimer)
    limiter = FixedWindowRateLimiter(SweptMemoryStorage())
    rate = RateLimitItemPerSecond(1000)
    before = len(started)
    for number in range(200):
        assert limiter.hit(rate, f"key{number % 3}")
        time.sleep(0.0005)
    assert len(started) == before  # the base class would have started dozens here


def test_a_window_still_limits_and_expires(monkeypatch):
    monkeypatch.setattr(rate_storage, "SWEEP_SECONDS", 0.0)
    storage = SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    rate = RateLimitItemPerSecond(2)
    assert limiter.hit(rate, "dialer")
    assert limiter.hit(rate, "dialer")
    assert not limiter.hit(rate, "dialer")
    time.sleep(1.05)
    assert limiter.hit(rate, "other")  # this request sweeps the expired window away
    assert not any("dialer" in key for key in storage.storage)
    assert limiter.hit(rate, "dialer")
