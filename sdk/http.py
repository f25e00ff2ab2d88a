"""The one HTTP transport: a `requests` session, timeouts, and the project's only retry loop (tenacity).

Connectors never write a retry loop. They say what a response means through a `ResponsePolicy`:
retry (429, 5xx, connection errors, honouring `Retry-After`, capped), refresh the credentials once (401), or
fail. Clock and sleep are injectable so tests never sleep. A client-side limiter keeps us under the vendor's rate
or concurrency limit, and quota headers are read after every response.
"""

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from .errors import ConnectorError, ConsentryError, RateLimitedError

DEFAULT_TIMEOUT = (5.0, 60.0)  # connect, read


@dataclass(frozen=True)
class Verdict:
    """What to do with one response: `ok`, `retry` (after `wait` seconds if known), `refresh` or `fail`."""

    action: str
    wait: float | None = None
    code: str | None = None
    message: str = ""


OK = Verdict("ok")


class ResponsePolicy:
    """Default meaning of statuses; a connector overrides `classify` for its vendor's quirks."""

    def classify(self, response: requests.Response) -> Verdict:
        status = response.status_code
        if status < 400:
            return OK
        if status == 401:
            return Verdict("refresh", code="UNAUTHORIZED", message="the credentials were refused")
        if status == 429:
            return Verdict("retry", wait=retry_after(response), code="RATE_LIMITED", message="rate limited")
        if status >= 500:
            return Verdict("retry", wait=retry_after(response), code="SERVER_ERROR", message=f"server error {status}")
        return Verdict("fail", code=f"HTTP_{status}", message=f"the request was refused with status {status}")

    def read_quota(self, response: requests.Response) -> Mapping[str, Any]:
        """Quota figures from the response headers (vendor-specific)."""
        return {}


def retry_after(response: requests.Response, *, milliseconds: bool = False) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
        return seconds / 1000 if milliseconds else seconds
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class RateLimiter:
    """At most `limit` requests in any rolling `period` seconds (HubSpot's 10-second window, for example)."""

    def __init__(self, limit: int, period: float, *, clock=time.monotonic, sleep=time.sleep):
        self.limit, self.period = limit, period
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def __enter__(self):
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.period:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return self
                wait = self.period - (now - self._sent[0])
            self._sleep(wait)

    def __exit__(self, *_exc) -> None:
        return None


class ConcurrencyLimiter:
    """At most `limit` requests in flight at once (Mailchimp's 10 simultaneous connections)."""

    def __init__(self, limit: int):
        self._slots = threading.BoundedSemaphore(limit)

    def __enter__(self):
        self._slots.acquire()
        return self

    def __exit__(self, *_exc) -> None:
        self._slots.release()


class Credentials:
    """Adds authentication to a request; `refresh` gets new credentials (returns False if it cannot)."""

    def headers(self) -> dict[str, str]:
        return {}

    def refresh(self, session: requests.Session) -> bool:
        return False


@dataclass
class CallCounter:
    """API calls made, by method and path template: the figure sync reports and tests compare to the minimum."""

    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.total += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


class _Retry(Exception):
    def __init__(self, verdict: Verdict, response: requests.Response | None):
        self.verdict, self.response = verdict, response


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        policy: ResponsePolicy | None = None,
        credentials: Credentials | None = None,
        limiter=None,
        session: requests.Session | None = None,
        timeout=DEFAULT_TIMEOUT,
        max_attempts: int = 6,
        max_wait: float = 60.0,
        backoff: Callable[[int], float] = lambda attempt: min(0.5 * 2 ** (attempt - 1), 30.0),
        sleep: Callable[[float], None] = time.sleep,
        vendor: str = "vendor",
    ):
        self.base_url = base_url.rstrip("/")
        self.policy = policy or ResponsePolicy()
        self.credentials = credentials or Credentials()
        self.limiter = limiter
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts, self.max_wait, self.backoff = max_attempts, max_wait, backoff
        self.sleep = sleep
        self.vendor = vendor
        self.quota: dict[str, Any] = {}
        self.calls = CallCounter()

    def request(
        self, method: str, path: str, *, kind: str | None = None, attempts: int | None = None, **options
    ) -> requests.Response:
        """Send one request with retries; returns the successful response or raises ConnectorError.

        `kind` names the call for the counters (default: method and path). `attempts` caps the tries below the
        transport's own, for a caller that must answer within a deadline (a webhook's look-up).
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        attempts = attempts or self.max_attempts
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda error: isinstance(error, _Retry)),
            sleep=self.sleep,
            reraise=True,
        )
        caller_headers = options.pop("headers", None) or {}
        options.setdefault("timeout", self.timeout)
        refreshed = False
        try:
            for attempt in retrying:
                with attempt:
                    headers = {**caller_headers, **self.credentials.headers()}  # fresh after a refresh
                    response = self._send(method, url, kind or f"{method} {path.split('?')[0]}", headers, options)
                    verdict = self.policy.classify(response)
                    if verdict.action == "refresh" and not refreshed and self.credentials.refresh(self.session):
                        refreshed = True  # once, inside the same loop: no recursion, same caller headers
                        raise _Retry(Verdict("retry", wait=0.0), response)
                    if verdict.action == "retry":
                        raise _Retry(verdict, response)
                    if verdict.action != "ok":
                        raise self._error(verdict, response)
                    return response
        except _Retry as exhausted:
            raise self._exhausted(exhausted.verdict, exhausted.response, attempts) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str, kind: str, headers: dict, options: dict) -> requests.Response:
        self.calls.add(kind)
        try:
            if self.limiter is None:
                response = self.session.request(method, url, headers=headers, **options)
            else:
                with self.limiter:
                    response = self.session.request(method, url, headers=headers, **options)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise _Retry(Verdict("retry", code="CONNECTION", message=type(error).__name__), None) from None
        self.quota.update(self.policy.read_quota(response))
        return response

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = error.verdict.wait if isinstance(error, _Retry) else None
        wait = hinted if hinted is not None else self.backoff(state.attempt_number)
        return min(max(wait, 0.0), self.max_wait)

    def _error(self, verdict: Verdict, response: requests.Response) -> ConnectorError:
        message = f"{self.vendor}: {verdict.message or verdict.code}"
        return ConnectorError(message, status=response.status_code, code=verdict.code, response=response)

    def _exhausted(self, verdict: Verdict, response: requests.Response | None, attempts: int) -> ConnectorError:
        message = f"{self.vendor}: {verdict.message or verdict.code} (gave up after {attempts} attempts)"
        status = response.status_code if response is not None else None
        if verdict.code and "RATE" in verdict.code:
            return RateLimitedError(
                message, retry_after=verdict.wait, status=status, code=verdict.code, response=response
            )
        return ConnectorError(message, retryable=True, status=status, code=verdict.code, response=response)


# What reading an answer of the wrong shape raises: a body that is not JSON, a field missing or of another type.
_UNREADABLE = (ValueError, KeyError, IndexError, TypeError, AttributeError, requests.RequestException)


@contextlib.contextmanager
def vendor_failures(vendor: str):
    """Whatever goes wrong while calling a vendor and reading its answers leaves as a ConnectorError.

    A proxy's HTML page with a 200, a truncated body or a field of another type would otherwise escape as a
    KeyError or a JSONDecodeError: the worker could not record the job as failed, and the sync would crash. Both
    kinds are retryable. The message names the exception's type only; the original is dropped, since its text may
    quote the body (and an address in it)."""
    try:
        yield
    except ConsentryError:
        raise
    except (requests.ConnectionError, requests.Timeout) as error:
        message = f"{vendor}: the connection failed ({type(error).__name__})"
        raise ConnectorError(message, retryable=True, code="CONNECTION") from None
    except _UNREADABLE as error:
        message = f"{vendor}: unexpected answer ({type(error).__name__})"
        raise ConnectorError(message, retryable=True, code="UNEXPECTED_RESPONSE") from None
