"""A minimal connector for testing the server alone: JSON webhooks signed with HMAC-SHA256, unsubscribes kept in
memory per process. Real vendors are tested through their sandboxes in tests/integration."""

import hashlib
import hmac
import json
from datetime import datetime

from consentry.connectors.base import Capability, Connector, ConnectorConfig, InboundEvent, WriteReport, secret_field
from consentry.sdk.consent_state import EventKind
from consentry.sdk.errors import ConnectorError, WebhookVerificationError
from consentry.sdk.webhooks import WebhookVerifier

UNSUBSCRIBED: dict[str, set[str]] = {}
PUSHED: dict[str, list[str]] = {}  # every item of every push, repeats included
FAILURES: dict[str, int] = {}
BROKEN: set[str] = set()  # relays whose own code fails (a bug, not a ConnectorError) when pushing
REFUSED: set[str] = set()  # connectors whose pushes the vendor refuses, without saying which item
LOCKED: dict[str, int] = {}  # connector name -> pushes left whose items the vendor refuses as locked (transient)
DURING_PUSH: dict[str, object] = {}  # connector name -> a function called while its push is under way


class RelayConfig(ConnectorConfig):
    secret = secret_field(load_default=None)


class RelayVerifier(WebhookVerifier):
    def verify(self, request):
        given = self.required_header(request, "X-Relay-Signature")
        if not self.matches_any(lambda key: hmac.new(key, request.body, hashlib.sha256).hexdigest(), given):
            raise WebhookVerificationError("relay: signature mismatch")


class RelayConnector(Connector):
    capabilities = frozenset({Capability.PUSH_UNSUBSCRIBE, Capability.RECEIVE_WEBHOOKS})
    config_schema = RelayConfig
    transient_codes = frozenset({"ROW_LOCKED"})

    def webhook_verifier(self):
        return RelayVerifier([self.config["secret"]])

    def parse_webhook(self, request):
        return [
            InboundEvent(
                event_key=item["id"],
                kind=EventKind(item["kind"]),
                channel=item.get("channel", "email"),
                occurred_at=datetime.fromisoformat(item["at"]),
                system=self.name,
                email=item.get("email"),
                record_id=item.get("record"),
            )
            for item in json.loads(request.body)
        ]

    def find_identities(self, events):
        """Events naming a record only ask the vendor who it is: here the vendor is always down."""
        raise ConnectorError(f"{self.name}: unavailable", retryable=True, code="SERVER_ERROR")

    def push_unsubscribes(self, items):
        if self.name in DURING_PUSH:
            DURING_PUSH[self.name]()
        if self.name in BROKEN:
            raise RuntimeError("a bug in the connector")
        if FAILURES.get(self.name, 0) > 0:
            FAILURES[self.name] -= 1
            raise ConnectorError(f"{self.name}: unavailable", retryable=True, code="SERVER_ERROR")
        report = WriteReport(calls=1)
        if self.name in REFUSED:  # the vendor says the batch failed, not which item (HubSpot's batch errors)
            report.failed.append((-1, "INVALID_EMAIL"))
            return report
        if LOCKED.get(self.name, 0) > 0:  # each item refused for now: another process holds its record
            LOCKED[self.name] -= 1
            report.failed += [(position, "ROW_LOCKED") for position in range(len(items))]
            return report
        for item in items:
            PUSHED.setdefault(self.name, []).append(item.email)
            UNSUBSCRIBED.setdefault(self.name, set()).add(item.email)
            report.applied += 1
        return report


class AlphaConnector(RelayConnector):
    name = "alpha"


class BetaConnector(RelayConnector):
    name = "beta"


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
