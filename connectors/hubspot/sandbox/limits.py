"""HubSpot's request limits per token: a rolling ten-second window, a daily quota, and the search endpoints' own
per-second limit, with the `X-HubSpot-RateLimit-*` headers and HubSpot's 429 body (CONTRACTS §1.8).

Search requests count against the daily quota and their own secondly window, not the ten-second window, and their
answers carry no ten-second headers. Refused requests consume nothing.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Response

from .errors import error_response

TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
SECONDLY = "SECONDLY"
DAILY = "DAILY"
MESSAGES = {
    TEN_SECONDLY: "You have reached your ten_secondly_rolling limit.",
    SECONDLY: "You have reached your secondly limit.",
    DAILY: "You have reached your daily limit.",
}


class HubSpotLimits:
    def __init__(
        self,
        *,
        rolling: tuple[int, float] = (190, 10.0),
        search: tuple[int, float] = (5, 1.0),
        daily: int = 650_000,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat(),
    ):
        self.rolling, self.search, self.daily = rolling, search, daily
        self.clock, self.today = clock, today
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._days: dict[str, tuple[str, int]] = {}

    def admit(self, token: str, *, search: bool = False) -> str | None:
        """None when the request may proceed (and is counted), else the name of the policy it breaks."""
        with self._lock:
            moment, day = self.clock(), self.today()
            seen_day, used = self._days.get(token, (day, 0))
            used = used if seen_day == day else 0
            if used >= self.daily:
                return DAILY
            kind, (limit, interval) = ("search", self.search) if search else ("rolling", self.rolling)
            window = self._window(token, kind, moment, interval)
            if len(window) >= limit:
                return SECONDLY if search else TEN_SECONDLY
            window.append(moment)
            self._days[token] = (day, used + 1)
            return None

    def headers(self, token: str, *, search: bool = False) -> dict[str, str]:
        with self._lock:
            day = self.today()
            seen_day, used = self._days.get(token, (day, 0))
            used = used if seen_day == day else 0
            headers = {
                "X-HubSpot-RateLimit-Daily": str(self.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - used)),
            }
            if not search:
                limit, interval = self.rolling
                window = self._window(token, "rolling", self.clock(), interval)
                headers.update(
                    {
                        "X-HubSpot-RateLimit-Max": str(limit),
                        "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(window))),
                        "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(interval * 1000)),
                    }
                )
            return headers

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._days.clear()

    def _window(self, token: str, kind: str, moment: float, interval: float) -> deque[float]:
        window = self._windows.setdefault((token, kind), deque())
        while window and moment - window[0] >= interval:
            window.popleft()
        return window


def rate_limited(policy: str, headers: dict[str, str]) -> Response:
    """HubSpot's 429: `errorType` RATE_LIMIT and the `policyName`, no `category`, no Retry-After."""
    response = error_response(429, None, MESSAGES[policy], errorType="RATE_LIMIT", policyName=policy)
    response.headers.update(headers)
    if policy == TEN_SECONDLY:
        response.headers["X-HubSpot-RateLimit-Remaining"] = "0"
    return response
