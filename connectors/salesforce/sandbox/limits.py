"""The org's daily API request limit: a rolling 24-hour window, shared by every session, reported on each REST
answer as `Sforce-Limit-Info: api-usage=used/max` and by `GET /limits` as `DailyApiRequests` (CONTRACTS §3.7).

A request over the limit is refused with 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit exceeded." and is not
counted. OAuth calls and the admin endpoints are not API requests.
"""

import threading
import time
from collections import deque
from collections.abc import Callable

DAY = 24 * 3600
LIMIT_MESSAGE = "TotalRequests Limit exceeded."


class DailyApiLimit:
    def __init__(self, maximum: int, *, clock: Callable[[], float] = time.time):
        self.maximum, self.clock = maximum, clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Count one request, unless the window is full."""
        with self._lock:
            self._trim()
            if len(self._calls) >= self.maximum:
                return False
            self._calls.append(self.clock())
            return True

    def used(self) -> int:
        with self._lock:
            self._trim()
            return len(self._calls)

    def header(self) -> str:
        return f"api-usage={self.used()}/{self.maximum}"

    def limits(self) -> dict:
        used = self.used()
        return {"Max": self.maximum, "Remaining": max(0, self.maximum - used)}

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    def _trim(self) -> None:
        edge = self.clock() - DAY
        while self._calls and self._calls[0] <= edge:
            self._calls.popleft()
