"""App webhook deliveries as HubSpot sends them (CONTRACTS §1.6-1.7): events fanned out to the app's active
subscriptions, batched into JSON arrays of at most 100, POSTed to the target URL with the v3 signature and
timestamp plus the legacy `X-HubSpot-Signature` (v1 by default, as for CRM object events), and retried on failure.

Each retry is sent again with `attemptNumber` raised and a fresh timestamp and signature, like HubSpot's. The shared
`WebhookDispatcher` resends the same bytes, so `_ResigningDispatcher` rewrites each attempt just before it is sent.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import requests

from consentry.connectors.sandbox_kit import Delivery, WebhookDispatcher

from ..webhooks import signature_v1, signature_v2, signature_v3

log = logging.getLogger(__name__)
USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client)"


def signed_headers(secret: str, url: str, body: bytes, *, legacy_version: str = "v1") -> dict[str, str]:
    key = secret.encode()
    stamp = str(int(time.time() * 1000))
    legacy = signature_v2(key, "POST", url, body) if legacy_version == "v2" else signature_v1(key, body)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-HubSpot-Signature": legacy,
        "X-HubSpot-Signature-Version": legacy_version,
        "X-HubSpot-Signature-v3": signature_v3(key, "POST", url, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Timeout-Millis": "10000",
    }


def encode(events: list[dict]) -> bytes:
    return json.dumps(events, separators=(",", ":")).encode()


class _ResigningDispatcher(WebhookDispatcher):
    """Rewrites each attempt (attemptNumber, timestamp, signatures) before the shared dispatcher sends it."""

    def __init__(self, *, sign: Callable[[str, bytes], dict[str, str]], record: Callable[[Delivery, dict], None], **kw):
        self._sign, self._record = sign, record
        super().__init__(**kw)

    def _deliver(self, delivery: Delivery) -> None:
        events = json.loads(delivery.body)
        for event in events:
            event["attemptNumber"] = delivery.attempt
        body = encode(events)
        fresh = replace(delivery, body=body, headers=self._sign(delivery.url, body))
        super()._deliver(fresh)
        self._record(fresh, self.log[-1])


class WebhookOutbox:
    """Events waiting to be delivered, sent in batches every `flush_interval` seconds (or on `flush()` only,
    when the interval is None), and the log of every attempt."""

    def __init__(
        self,
        *,
        secret: str,
        legacy_version: str = "v1",
        batch_size: int = 100,
        flush_interval: float | None = 0.1,
        max_attempts: int = 11,
        backoff: Callable[[int], float] | None = None,
    ):
        self.secret, self.legacy_version, self.batch_size = secret, legacy_version, batch_size
        self.log: list[dict] = []
        self._pending: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        options = {"max_attempts": max_attempts, **({"backoff": backoff} if backoff else {})}
        self.dispatcher = _ResigningDispatcher(sign=self._sign, record=self._record, **options)
        self._stop = threading.Event()
        self._thread = None
        if flush_interval is not None:
            self._thread = threading.Thread(
                target=self._run, args=(flush_interval,), name="hubspot-webhook-batcher", daemon=True
            )
            self._thread.start()

    def publish(self, url: str, event: dict) -> None:
        with self._lock:
            self._pending.append((url, event))

    def queued(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> dict:
        """Hand every waiting event to the dispatcher, at most `batch_size` per request and target."""
        with self._lock:
            pending, self._pending = self._pending, []
        by_url: dict[str, list[dict]] = {}
        for url, event in pending:
            by_url.setdefault(url, []).append(event)
        batches = 0
        for url, events in by_url.items():
            for start in range(0, len(events), self.batch_size):
                body = encode(events[start : start + self.batch_size])
                self.dispatcher.send(url, body, self._sign(url, body))
                batches += 1
        return {"batches": batches, "events": len(pending)}

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.dispatcher.close()

    def _sign(self, url: str, body: bytes) -> dict[str, str]:
        return signed_headers(self.secret, url, body, legacy_version=self.legacy_version)

    def _record(self, delivery: Delivery, outcome: dict) -> None:
        events = json.loads(delivery.body)
        self.log.append(
            {
                "url": delivery.url,
                "attempt": delivery.attempt,
                "outcome": outcome["outcome"],
                "eventIds": [event["eventId"] for event in events],
                "events": len(events),
                "at": datetime.now(UTC).isoformat(),
            }
        )
        if not isinstance(outcome["outcome"], int) or not 200 <= outcome["outcome"] < 300:
            log.info("hubspot sandbox: delivery attempt %s failed (%s)", delivery.attempt, outcome["outcome"])

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.flush()
            except (ValueError, requests.RequestException):  # a target that is not loopback: dropped
                log.warning("hubspot sandbox: a webhook batch could not be queued")
