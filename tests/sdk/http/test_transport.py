"""The transport's retry rules, with ordered fake responses and an injected sleep (no test ever sleeps)."""

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from consentry.sdk.errors import ConnectorError, RateLimitedError
from consentry.sdk.http import ConcurrencyLimiter, Credentials, RateLimiter, Transport

BASE = "https://api.vendor.test"


@pytest.fixture
def slept():
    return []


@pytest.fixture
def transport(slept):
    return Transport(BASE, sleep=slept.append, max_attempts=4, max_wait=30, vendor="vendor")


@responses.activate(registry=OrderedRegistry)
def test_retries_429_and_5xx_honouring_retry_after(transport, slept):
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", json={"ok": True})
    assert transport.request("GET", "/x").json() == {"ok": True}
    assert slept[0] == 7
    assert len(slept) == 2
    assert transport.calls.total == 3


@responses.activate(registry=OrderedRegistry)
def test_retry_after_is_capped(transport, slept):
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "3600"})
    responses.get(f"{BASE}/x", json={})
    transport.request("GET", "/x")
    assert slept == [30]


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
@responses.activate
def test_other_4xx_are_never_retried(transport, slept, status):
    responses.post(f"{BASE}/x", status=status, json={"detail": "jane@example.com is wrong"})
    with pytest.raises(ConnectorError) as error:
        transport.request("POST", "/x", json={})
    assert error.value.status == status
    assert not error.value.retryable
    assert "@" not in str(error.value)
    assert slept == []
    assert len(responses.calls) == 1


@responses.activate
def test_gives_up_after_the_last_attempt_with_a_rate_limit_error(transport, slept):
    responses.get(f"{BASE}/x", status=429)
    with pytest.raises(RateLimitedError):
        transport.request("GET", "/x")
    assert len(responses.calls) == 4
    assert len(slept) == 3


@responses.activate(registry=OrderedRegistry)
def test_connection_errors_are_retried(transport, slept):
    responses.get(f"{BASE}/x", body=requests.ConnectionError("refused"))
    responses.get(f"{BASE}/x", json={"ok": 1})
    assert transport.request("GET", "/x").json() == {"ok": 1}
    assert len(slept) == 1


class RotatingToken(Credentials):
    def __init__(self):
        self.token, self.refreshes = "old", 0

    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def refresh(self, session):
        self.refreshes += 1
        self.token = "new"
        return True


@responses.activate(registry=OrderedRegistry)
def test_a_401_refreshes_once_and_keeps_the_callers_headers(slept):
    credentials = RotatingToken()
    transport = Transport(BASE, credentials=credentials, sleep=slept.append)
    responses.get(f"{BASE}/x", status=401)
    responses.get(f"{BASE}/x", json={"ok": True})
    transport.request("GET", "/x", headers={"X-Caller": "kept"})
    second = responses.calls[1].request
    assert second.headers["Authorization"] == "Bearer new"
    assert second.headers["X-Caller"] == "kept"
    assert credentials.refreshes == 1


@responses.activate
def test_a_second_401_is_not_refreshed_again(slept):
    credentials = RotatingToken()
    transport = Transport(BASE, credentials=credentials, sleep=slept.append)
    responses.get(f"{BASE}/x", status=401)
    with pytest.raises(ConnectorError) as error:
        transport.request("GET", "/x")
    assert error.value.status == 401
    assert credentials.refreshes == 1
    assert len(responses.calls) == 2


def test_rate_limiter_waits_for_the_window_to_roll():
    now = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        with limiter:
            now[0] += 1
    assert waits == [8.0]


def test_concurrency_limiter_blocks_beyond_its_slots():
    limiter = ConcurrencyLimiter(1)
    with limiter:
        assert not limiter._slots.acquire(blocking=False)
    assert limiter._slots.acquire(blocking=False)
