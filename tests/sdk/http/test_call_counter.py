"""The transport's call counter is shared by the web server's request threads: no count is lost between them."""

import sys
import threading

from consentry.sdk.http import CallCounter


def test_calls_counted_from_many_threads_at_once_are_all_counted():
    counter = CallCounter()

    def count() -> None:
        for _ in range(20_000):
            counter.add("GET /contacts")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the interpreter over as often as it can: a lost update shows at once
    try:
        threads = [threading.Thread(target=count) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert counter.total == 160_000
    assert counter.by_kind == {"GET /contacts": 160_000}
