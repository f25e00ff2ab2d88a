"""Outbound Messages as a workflow rule sends them (CONTRACTS §3.8): SOAP 1.1 `notifications` envelopes of up to
100 `Notification`s of one object (one outbound message action per object), POSTed with `SOAPAction: ""` to the
configured endpoint and retried until the receiver answers HTTP 200 with `<Ack>true</Ack>` in the outbound
namespace; a 200 without that acknowledgement is a failure, as in Salesforce.

"If the record changes before sending, only the latest data is delivered": each attempt is rebuilt from the
records as they are at that moment, keeping its notification ids (receivers deduplicate on them). Null fields are
left out of the `sObject` (unconfirmed). The kit's `WebhookDispatcher` resends the same bytes, so
`_RefreshingDispatcher` rebuilds each attempt just before it goes.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import requests
from defusedxml import ElementTree

from consentry.connectors.sandbox_kit import Delivery, WebhookDispatcher

from ..outbound import OUTBOUND_NS, envelope
from . import record_ids

log = logging.getLogger(__name__)
MAX_NOTIFICATIONS = 100
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
DEFAULT_FIELDS = (
    "Id",
    "Email",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "HasOptedOutOfFax",
    "IndividualId",
    "ShouldForget",  # Individuals' own message: an Individual has no Email and a message carries its object's fields
    "LastModifiedDate",
    "SystemModstamp",
)


def acknowledged(answer: requests.Response) -> bool:
    """HTTP 200 and an `Ack` element of the outbound namespace reading true; anything else is retried."""
    if answer.status_code != 200:
        return False
    try:
        root = ElementTree.fromstring(answer.content, forbid_dtd=True)
    except Exception:  # not XML, or XML defusedxml refuses: no acknowledgement
        return False
    return any((element.text or "").strip().lower() == "true" for element in root.iter(f"{{{OUTBOUND_NS}}}Ack"))


@dataclass(frozen=True)
class Message:
    object_type: str
    notifications: tuple[tuple[str, str], ...]  # (notification id, record id)


class _RefreshingDispatcher(WebhookDispatcher):
    """Rebuilds each attempt's envelope from the current records, then lets the kit send and retry it; reports
    each attempt with whether the receiver acknowledged it."""

    def __init__(
        self, *, build: Callable[[Message], bytes], record: Callable[[Message, Delivery, dict, bool], None], **kw
    ):
        self._build, self._record = build, record
        self._messages: dict[bytes, Message] = {}
        self._by_lock = threading.Lock()
        super().__init__(**kw)

    def register(self, body: bytes, message: Message) -> None:
        with self._by_lock:
            self._messages[body] = message

    def _deliver(self, delivery: Delivery) -> None:
        with self._by_lock:
            message = self._messages.pop(delivery.body, None)
        if message is None:
            super()._deliver(delivery)
            return
        verdict: list[bool] = []

        def accepts(answer: requests.Response) -> bool:
            verdict.append(acknowledged(answer))
            return verdict[-1]

        fresh = replace(delivery, body=self._build(message), accepts=accepts)
        self.register(fresh.body, message)
        super()._deliver(fresh)
        acknowledged_ = bool(verdict and verdict[-1])
        if acknowledged_ or fresh.attempt + 1 >= self.max_attempts:  # no further attempt will look it up
            with self._by_lock:
                self._messages.pop(fresh.body, None)
        self._record(message, fresh, self.log[-1], acknowledged_)


class OutboundMessenger:
    """Notifications waiting to be sent, grouped into messages every `flush_interval` seconds (or by `flush()`),
    and the log of every delivery attempt."""

    def __init__(
        self,
        *,
        organization_id: str,
        endpoint: Callable[[], str | None],
        snapshot: Callable[[str], dict | None],
        server_urls: Callable[[], tuple[str, str]],
        session_id: Callable[[], str | None],
        fields: tuple[str, ...] = DEFAULT_FIELDS,
        max_attempts: int = 10,
        backoff: Callable[[int], float] | None = None,
        flush_interval: float | None = 0.05,
    ):
        self.organization_id, self.endpoint, self.snapshot = organization_id, endpoint, snapshot
        self.server_urls, self.session_id, self.fields = server_urls, session_id, fields
        self.actions = {
            name: record_ids.make("04k", n) for n, name in enumerate(("Contact", "Lead", "Individual"), start=1)
        }
        self.log: list[dict] = []
        self.dropped = 0
        self._pending: list[tuple[str, str, str]] = []  # (object type, notification id, record id)
        self._lock = threading.Lock()
        options = {"max_attempts": max_attempts, **({"backoff": backoff} if backoff else {})}
        self.dispatcher = _RefreshingDispatcher(build=self._envelope, record=self._record, **options)
        self._stop = threading.Event()
        self._thread = None
        if flush_interval is not None:
            self._thread = threading.Thread(
                target=self._run, args=(flush_interval,), name="salesforce-outbound", daemon=True
            )
            self._thread.start()

    def notify(self, object_type: str, record_id: str) -> None:
        """Queue one notification for a record whose change met the rule; dropped when no endpoint is set."""
        if not self.endpoint():
            self.dropped += 1
            return
        with self._lock:
            self._pending.append((object_type, record_ids.random("04l"), record_id))

    def queued(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> dict:
        with self._lock:
            pending, self._pending = self._pending, []
        url = self.endpoint()
        if not pending or not url:
            return {"messages": 0, "notifications": 0}
        by_type: dict[str, list[tuple[str, str]]] = {}
        for object_type, notification_id, record_id in pending:
            by_type.setdefault(object_type, []).append((notification_id, record_id))
        messages = 0
        for object_type, items in by_type.items():
            for start in range(0, len(items), MAX_NOTIFICATIONS):
                message = Message(object_type, tuple(items[start : start + MAX_NOTIFICATIONS]))
                body = self._envelope(message)
                self.dispatcher.register(body, message)
                try:
                    self.dispatcher.send(url, body, dict(HEADERS))
                except ValueError:
                    log.warning("salesforce sandbox: an outbound message could not be queued (endpoint refused)")
                    continue
                messages += 1
        return {"messages": messages, "notifications": len(pending)}

    def deliveries(self) -> list[dict]:
        return list(self.log)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.dispatcher.close()

    def _envelope(self, message: Message) -> bytes:
        notifications = []
        for notification_id, record_id in message.notifications:
            record = self.snapshot(record_id)
            if record is None:
                continue
            fields = {name: record.get(name) for name in self.fields if name in record}
            notifications.append((notification_id, message.object_type, fields))
        enterprise, partner = self.server_urls()
        return envelope(
            organization_id=self.organization_id,
            action_id=self.actions.get(message.object_type, record_ids.make("04k", 99)),
            session_id=self.session_id(),
            enterprise_url=enterprise,
            partner_url=partner,
            notifications=notifications,
        )

    def _record(self, message: Message, delivery: Delivery, outcome: dict, acknowledged_: bool) -> None:
        entry = {
            "url": delivery.url,
            "attempt": delivery.attempt,
            "outcome": outcome["outcome"],
            "acknowledged": acknowledged_,
            "object": message.object_type,
            "actionId": self.actions.get(message.object_type),
            "notifications": [n for n, _ in message.notifications],
            "records": [r for _, r in message.notifications],
            "at": datetime.now(UTC).isoformat(),
        }
        self.log.append(entry)
        if not acknowledged_:
            log.info(
                "salesforce sandbox: outbound attempt %s not acknowledged (%s)", delivery.attempt, entry["outcome"]
            )

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()
