"""The transport's overall deadline: real trickling vendors on 127.0.0.1 are cut, and waits never pass it."""

import socket
import threading
import time

import pytest
import responses
from responses.registries import OrderedRegistry

from consentry.sdk.errors import ConnectorError, RateLimitedError
from consentry.sdk.http import Transport

DEADLINE = 1.5
MARGIN = 1.5  # generous: CI is a 2-core machine
STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
BODY = b'{"pad": "' + b"a" * 11 + b'"}'  # 20 bytes, six seconds at the trickle's pace
OK = b'{"ok": true}'


class TricklingVendor:
    """An HTTP/1.1 server in threads that answers each path its own way; keeps connections alive.

    /ok answers at once; /slow-status sends its status line a byte every 0.3 s; /slow-body sends its headers at
    once and its body a byte every 0.3 s (/slow-body-unsized: without Content-Length, ending at the close);
    /flaky answers 503 the first time and then as /slow-status."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self._stopping = threading.Event()
        self._flaky_seen = False
        self._threads = [threading.Thread(target=self._accept)]
        self._threads[0].start()

    def close(self) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()
        assert not any(thread.is_alive() for thread in self._threads)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,))
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            for path in self._paths(conn):
                if not self._answer(conn, path):
                    return

    def _paths(self, conn: socket.socket):
        buffer = b""
        while not self._stopping.is_set():
            if b"\r\n\r\n" in buffer:  # GETs only: no request body to skip
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                yield head.split(b" ")[1].decode().split("?")[0]
                continue
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk

    def _answer(self, conn: socket.socket, path: str) -> bool:
        """Answer one request; False ends the connection."""
        sized = b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        try:
            if path == "/ok":
                conn.sendall(STATUS_LINE + sized % len(OK) + OK)
            elif path == "/flaky" and not self._flaky_seen:
                self._flaky_seen = True
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            elif path in ("/slow-status", "/flaky"):
                if not self._trickle(conn, STATUS_LINE):
                    return False
                conn.sendall(sized % len(BODY) + BODY)
            elif path == "/slow-body":
                conn.sendall(STATUS_LINE + sized % len(BODY))
                return self._trickle(conn, BODY)
            elif path == "/slow-body-unsized":
                conn.sendall(STATUS_LINE + b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
                self._trickle(conn, BODY)
                return False
            else:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            return False
        return True

    def _trickle(self, conn: socket.socket, data: bytes) -> bool:
        for byte in data:
            if self._stopping.wait(0.3):
                return False
            try:
                conn.sendall(bytes([byte]))
            except OSError:  # the client cut the connection
                return False
        return True


@pytest.fixture
def vendor():
    server = TricklingVendor()
    yield server
    server.close()


@pytest.fixture
def transport(vendor):
    transport = Transport(vendor.url, vendor="vendor")
    transport.deadline = DEADLINE  # as the propagation workers set it
    yield transport
    transport.session.close()


@pytest.fixture(autouse=True)
def no_watch_left_running():
    yield
    assert not [thread for thread in threading.enumerate() if thread.name == "consentry-deadline"]


def timed_failure(transport: Transport, path: str) -> tuple[ConnectorError, float]:
    began = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        transport.request("GET", path, params={"email": "jane@example.com"})
    return caught.value, time.monotonic() - began


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/slow-status", "/slow-body", "/slow-body-unsized"])
def test_a_trickling_answer_is_cut_at_the_deadline(transport, path):
    """Status line, or body with or without Content-Length: a byte every 0.3 s never trips a read timeout."""
    error, elapsed = timed_failure(transport, path)
    assert DEADLINE - 0.1 <= elapsed < DEADLINE + MARGIN
    assert error.code == "DEADLINE_EXCEEDED"
    assert error.retryable
    assert "jane" not in str(error)
    assert "example.com" not in str(error)
    assert "?" not in str(error)


@pytest.mark.integration
def test_after_a_cut_the_same_transport_answers_on_a_fresh_connection_and_keeps_it(transport, vendor):
    timed_failure(transport, "/slow-body")
    began = time.monotonic()
    assert transport.request("GET", "/ok").json() == {"ok": True}
    assert transport.request("GET", "/ok").json() == {"ok": True}
    assert time.monotonic() - began < 1.0
    assert vendor.connections == 2  # the cut connection was not reused; the healthy one was


@pytest.mark.integration
def test_the_deadline_covers_every_attempt_of_a_call(vendor):
    """A 503, a 0.5 s backoff, then a trickle: the second attempt gets what is left, not a deadline of its own."""
    transport = Transport(vendor.url, max_attempts=5, vendor="vendor")
    transport.deadline = DEADLINE
    try:
        error, elapsed = timed_failure(transport, "/flaky")
    finally:
        transport.session.close()
    assert DEADLINE - 0.1 <= elapsed < DEADLINE + MARGIN
    assert error.code == "DEADLINE_EXCEEDED"
    assert "after 2 attempts" in str(error)


BASE = "https://api.vendor.test"


class FakeTime:
    """A clock that only the injected sleep moves."""

    def __init__(self):
        self.now, self.slept = 0.0, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@responses.activate
def test_a_retry_after_that_would_pass_the_deadline_is_not_waited():
    fake = FakeTime()
    transport = Transport(BASE, sleep=fake.sleep)
    transport.clock, transport.deadline = fake.clock, 10
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "30"})
    with pytest.raises(RateLimitedError) as error:
        transport.request("GET", "/x")
    assert error.value.retry_after == 30  # the caller learns when to come back
    assert fake.slept == []
    assert len(responses.calls) == 1


@responses.activate
def test_waits_stop_where_the_next_would_pass_the_deadline():
    fake = FakeTime()
    transport = Transport(BASE, clock=fake.clock, sleep=fake.sleep, deadline=10, max_attempts=6)
    responses.get(f"{BASE}/x", status=503, headers={"Retry-After": "4"})
    with pytest.raises(ConnectorError) as error:
        transport.request("GET", "/x")
    assert fake.slept == [4, 4]  # a third wait would end at 12 s
    assert error.value.code == "SERVER_ERROR"
    assert "after 3 attempts" in str(error.value)


@responses.activate(registry=OrderedRegistry)
def test_the_deadline_can_be_set_on_the_transport_and_overridden_per_call():
    fake = FakeTime()
    transport = Transport(BASE, sleep=fake.sleep)
    transport.clock, transport.deadline = fake.clock, 4
    responses.get(f"{BASE}/x", status=503, headers={"Retry-After": "5"})
    responses.get(f"{BASE}/x", status=503, headers={"Retry-After": "5"})
    responses.get(f"{BASE}/x", json={"ok": True})
    with pytest.raises(ConnectorError):
        transport.request("GET", "/x")
    assert fake.slept == []
    assert transport.request("GET", "/x", deadline=60).json() == {"ok": True}
    assert fake.slept == [5]
