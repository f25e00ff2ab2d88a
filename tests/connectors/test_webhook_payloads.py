"""What the base does with a verified body its connector cannot parse, for any vendor: a WebhookPayloadError (the
server's 400), never another exception (a 500)."""

import json
from datetime import datetime

import pytest

from consentry.connectors.base import Capability, Connector, ConnectorConfig, InboundEvent
from consentry.sdk.consent_state import EventKind
from consentry.sdk.errors import WebhookPayloadError
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier


class TrustingVerifier(WebhookVerifier):
    def verify(self, request: WebhookRequest) -> None:
        return None


class JsonConnector(Connector):
    """A vendor whose deliveries are JSON, parsed the plain way."""

    name = "json-vendor"
    capabilities = frozenset({Capability.RECEIVE_WEBHOOKS})
    config_schema = ConnectorConfig

    def webhook_verifier(self) -> WebhookVerifier:
        return TrustingVerifier(["secret"])

    def parse_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        return [
            InboundEvent(
                event_key=item["id"],
                kind=EventKind.WITHDRAWN,
                channel="email",
                occurred_at=datetime.fromisoformat(item["at"]),
                system=self.name,
                email=item["email"],
            )
            for item in json.loads(request.body)
        ]


def delivery(body: bytes) -> WebhookRequest:
    return WebhookRequest("POST", "https://consentry.example/webhooks/json-vendor", body, {})


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'[{"a":' * 50_000 + b"1" + b"}]" * 50_000, b"[" * 2_000 + b"]" * 2_000],
    ids=["deep arrays", "deep objects", "past the recursion limit"],
)
def test_a_body_nested_too_deeply_for_the_parser_is_a_payload_error(body):
    with pytest.raises(WebhookPayloadError) as error:
        JsonConnector({}).receive_webhook(delivery(body))
    assert str(error.value) == "json-vendor: malformed webhook payload (TooDeeplyNested)"


def test_a_shallow_body_is_parsed():
    body = json.dumps([{"id": "e1", "at": "2026-11-23T10:00:00+00:00", "email": "a@example.com"}]).encode()
    [event] = JsonConnector({}).receive_webhook(delivery(body))
    assert event.event_key == "e1"
