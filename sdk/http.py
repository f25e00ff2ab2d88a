"""The one HTTP transport: a `requests` session, timeouts, and the project's only retry loop (tenacity).

Connectors never write a retry loop. They say what a response means through a `ResponsePolicy`:
retry (429, 5xx, connection errors, honouring `Retry-After`, capped), refresh the credentials once (401), or
fail. Clock and sleep are injectable so tests never sleep. A client-side limiter keeps us under the vendor's rate
or concurrency limit, and quota headers are read after every response.

Every `request()` has an overall deadline (`Transport.deadline`, or `deadline=` for one call) that bounds the whole
call: its attempts, the waits between them and the reading of each answer. A read timeout bounds one socket read
only, so a vendor sending a byte every few seconds would otherwise hold a worker for ever.
"""

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

import requests
import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from .errors import ConnectorError, ConsentryError, RateLimitedError

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "OK",
    "CallCounter",
    "ConcurrencyLimiter",
    "Credentials",
    "RateLimiter",
    "ResponsePolicy",
    "Timeout",
    "Transport",
    "Verdict",
    "retry_after",
    "vendor_failures",
]

Timeout = float | tuple[float | None, float | None] | None  # requests' timeout: both, or (connect, read)
DEFAULT_TIMEOUT: Timeout = (5.0, 60.0)  # connect, read
_R = TypeVar("_R")
# One request() with all its attempts and waits. Above the 60 s longest wait, so a sync still waits out a long
# Retry-After once; the propagation workers set a shorter one than their lease.
DEFAULT_DEADLINE = 120.0


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

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit, self.period = limit, period
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
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

    def __exit__(self, *_exc: object) -> None:
        return None


class ConcurrencyLimiter:
    """At most `limit` requests in flight at once (Mailchimp's 10 simultaneous connections)."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit)

    def __enter__(self) -> Self:
        self._slots.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _threads: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def add(self, kind: str) -> None:
        with self._lock:  # a connector's transport serves the web server's request threads at once
            self.total += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self._threads.total = self.this_thread + 1

    @property
    def this_thread(self) -> int:
        """The calls this thread sent. A step's count is its difference before and after: `total`'s would take in
        what other threads sent through the same transport meanwhile (the worker's drain beside a sync)."""
        return getattr(self._threads, "total", 0)


class _Retry(Exception):
    def __init__(self, verdict: Verdict, response: requests.Response | None):
        self.verdict, self.response = verdict, response


_DEADLINE = Verdict("retry", code="DEADLINE_EXCEEDED", message="no complete answer before the deadline")
_watching = threading.local()  # the _Watch of the call this thread is making, for the pools below


class _Watch:
    """Shuts down the sockets of the call's connection once its deadline passes.

    A blocked read wakes at once when its socket is shut down, which no timeout does for a trickling answer.
    Past the deadline it goes on cutting every 0.1 s, for a connection that only gets its socket later (it was
    still connecting, or a redirect opened another)."""

    def __init__(self, seconds: float):
        self.cut = False  # the deadline passed before the call was over
        self._seconds = max(seconds, 0.0)
        self._conn: Any = None  # urllib3's connection
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._over = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consentry-deadline", daemon=True)

    def __enter__(self) -> Self:
        _watching.watch = self
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        _watching.watch = None
        with self._lock:
            self._over.set()
        self._thread.join()

    def attach(self, conn: Any) -> None:
        """The connection the request goes out on (it may still have no socket)."""
        with self._lock:
            self._conn, self._sock = conn, None

    def hold(self, sock: socket.socket | None) -> None:
        """The socket the answer is read from, kept apart: http.client lets go of it for an answer that ends at
        the close (no Content-Length), and only the answer still holds it then."""
        with self._lock:
            self._sock = sock

    def release(self, conn: Any) -> None:
        """The pool takes `conn` back: stop watching it, and close it if it was cut so it is never reused."""
        with self._lock:
            if conn is self._conn:
                self._conn = self._sock = None
                if self.cut:
                    conn.close()

    def _run(self) -> None:
        if self._over.wait(self._seconds):
            return
        while True:
            with self._lock:
                if self._over.is_set():
                    return
                self.cut = True
                for sock in (getattr(self._conn, "sock", None), self._sock):
                    if isinstance(sock, socket.socket):  # plain or TLS; the base method leaves the TLS state alone
                        with contextlib.suppress(OSError):
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
            if self._over.wait(0.1):
                return


def _watch() -> _Watch | None:
    return getattr(_watching, "watch", None)


# The mixins below sit before urllib3's classes in their subclasses; mypy checks them as the subclasses they are.
if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

    _Connection = urllib3.connection.HTTPConnection
    _Pool = urllib3.HTTPConnectionPool
else:
    _Connection = _Pool = object


class _WatchedConnection(_Connection):
    """Hands the calling thread's watch the socket its answer will be read from."""

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]  # as urllib3's own
        if (watch := _watch()) is not None:
            watch.hold(self.sock)
        return super().getresponse()


class _WatchedHTTPConnection(_WatchedConnection, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    pass


class _WatchedPool(_Pool):
    """Tells the calling thread's watch which connection its request uses, and when the pool takes it back."""

    def _get_conn(self, timeout: float | None = None) -> "BaseHTTPConnection":
        conn = super()._get_conn(timeout)
        if (watch := _watch()) is not None:
            watch.attach(conn)
        return conn

    def _put_conn(self, conn: "BaseHTTPConnection | None") -> None:
        if conn is not None and (watch := _watch()) is not None:
            watch.release(conn)
        super()._put_conn(conn)


class _WatchedHTTPPool(_WatchedPool, urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_WatchedPool, urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with pools a deadline can reach (direct and through an HTTP proxy; not SOCKS)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def _watch_connections(session: requests.Session) -> None:
    """Swap requests' plain adapters for watched ones with the same settings; a caller's own adapter is kept."""
    for prefix, adapter in session.adapters.items():
        if type(adapter) is requests.adapters.HTTPAdapter:
            watched = _WatchedAdapter.__new__(_WatchedAdapter)
            watched.__setstate__(adapter.__getstate__())  # type: ignore[attr-defined]  # as requests copies one (pickling)
            session.adapters[prefix] = watched


def _connect_within(timeout: Timeout, seconds: float) -> tuple[float, float | None]:
    """`timeout` with its connect part at most `seconds`: a connection without a socket yet cannot be cut."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (seconds if connect is None else min(connect, seconds), read)


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        policy: ResponsePolicy | None = None,
        credentials: Credentials | None = None,
        limiter: contextlib.AbstractContextManager[Any] | None = None,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_attempts: int = 6,
        max_wait: float = 60.0,
        backoff: Callable[[int], float] = lambda attempt: min(0.5 * 2 ** (attempt - 1), 30.0),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline: float = DEFAULT_DEADLINE,
        vendor: str = "vendor",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or ResponsePolicy()
        self.credentials = credentials or Credentials()
        self.limiter = limiter
        self.session = session or requests.Session()
        _watch_connections(self.session)
        self.timeout = timeout
        self.max_attempts, self.max_wait, self.backoff = max_attempts, max_wait, backoff
        self.sleep, self.clock = sleep, clock
        self.deadline = deadline  # seconds for a whole request(); callers may set it later
        self.vendor = vendor
        self.quota: dict[str, Any] = {}
        self.calls = CallCounter()

    def request(
        self,
        method: str,
        path: str,
        *,
        kind: str | None = None,
        attempts: int | None = None,
        deadline: float | None = None,
        **options: Any,
    ) -> requests.Response:
        """Send one request with retries; returns the successful response or raises ConnectorError.

        `kind` names the call for the counters (default: method and path). `attempts` caps the tries below the
        transport's own, for a caller that must answer within a deadline (a webhook's look-up).

        `deadline` (default `self.deadline`) bounds the whole call, not each attempt: an attempt still running
        when it passes is cut (a retryable ConnectorError coded DEADLINE_EXCEEDED if it was the last), and a wait
        that would end past it is not waited: the last error is raised at once (a RateLimitedError keeps its
        Retry-After). The answer is read whole within it, unless the caller passes `stream=True`.
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        attempts = attempts or self.max_attempts
        end = self.clock() + (self.deadline if deadline is None else deadline)
        out_of_attempts = stop_after_attempt(attempts)

        def stop(state: RetryCallState) -> bool:  # out of attempts, or the next wait would end past the deadline
            return out_of_attempts(state) or self.clock() + state.upcoming_sleep >= end

        retrying = Retrying(
            stop=stop,
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
                    name = kind or f"{method} {path.split('?')[0]}"
                    response = self._send(method, url, name, headers, options, end)
                    verdict = self.policy.classify(response)
                    if verdict.action == "refresh" and not refreshed and self._refresh(end):
                        refreshed = True  # once, inside the same loop: no recursion, same caller headers
                        raise _Retry(Verdict("retry", wait=0.0), response)
                    if verdict.action == "retry":
                        raise _Retry(verdict, response)
                    if verdict.action != "ok":
                        raise self._error(verdict, response)
                    return response
        except _Retry as exhausted:
            made = retrying.statistics.get("attempt_number", attempts)
            raise self._exhausted(exhausted.verdict, exhausted.response, made) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, url: str, kind: str, headers: dict[str, str], options: dict[str, Any], end: float
    ) -> requests.Response:
        self.calls.add(kind)
        with self.limiter or contextlib.nullcontext():
            left = end - self.clock()
            if left <= 0:
                raise _Retry(_DEADLINE, None)
            # The connect timeout ends just after the cut, so a connection the deadline stopped is reported as such.
            options = {**options, "timeout": _connect_within(options.get("timeout"), left + 0.5)}
            try:
                response = self._watched(left, lambda: self.session.request(method, url, headers=headers, **options))
            except (requests.ConnectionError, requests.Timeout) as error:
                raise _Retry(Verdict("retry", code="CONNECTION", message=type(error).__name__), None) from None
        self.quota.update(self.policy.read_quota(response))
        return response

    def _refresh(self, end: float) -> bool:
        """Refresh the credentials within what is left of the deadline (a token endpoint can trickle too)."""
        left = end - self.clock()
        if left <= 0:
            raise _Retry(_DEADLINE, None)
        return self._watched(left, lambda: self.credentials.refresh(self.session))

    @staticmethod
    def _watched(seconds: float, call: Callable[[], _R]) -> _R:
        """`call()`, with the connection it uses cut after `seconds`; whatever a cut ends in is a deadline error."""
        watch = _Watch(seconds)
        try:
            with watch:
                result = call()
        except Exception:  # a cut ends in whatever error the reading code makes of a closed socket
            if watch.cut:
                raise _Retry(_DEADLINE, None) from None
            raise
        if watch.cut:  # a body without Content-Length ends quietly when cut: never take it for the whole answer
            raise _Retry(_DEADLINE, None)
        return result

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
def vendor_failures(vendor: str) -> Iterator[None]:
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
