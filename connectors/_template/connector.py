"""<Vendor>: what this connector syncs, and the vendor documents its facts come from."""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import marshmallow

from consentry.connectors.base import (
    Capability,
    Connector,
    ConnectorConfig,
    ConsentTag,
    InboundEvent,
    RemoteContact,
    Unsubscribe,
    WriteReport,
    batched,
    secret_field,
)
from consentry.sdk.http import Credentials, ResponsePolicy, Transport
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier

BATCH_SIZE = 100  # the vendor's largest write batch


class TemplateConfig(ConnectorConfig):
    api_token = secret_field(required=True)
    webhook_secret = secret_field(load_default=None)
    page_size = marshmallow.fields.Integer(load_default=100)


class TemplateToken(Credentials):
    def __init__(self, token: str):
        self._header = {"Authorization": f"Bearer {token}"}

    def headers(self) -> dict[str, str]:
        return self._header


class TemplateConnector(Connector):
    name = "template"
    capabilities = frozenset({Capability.SYNC_CONTACTS, Capability.PUSH_UNSUBSCRIBE})
    config_schema = TemplateConfig
    sandbox = None  # "consentry.connectors.<vendor>.sandbox" once its emulator ships (CHECKLIST.md, step 8)

    def __init__(self, config, **options):
        super().__init__(config, **options)
        self.transport = Transport(
            self.config["base_url"] or "https://api.vendor.example",
            policy=ResponsePolicy(),  # subclass it for the vendor's quirks
            credentials=TemplateToken(self.config["api_token"]),
            sleep=self.sleep,
            vendor=self.name,
        )

    def fetch_contacts(self, since: datetime | None = None) -> Iterator[RemoteContact]:
        cursor = None
        while True:
            params = {"limit": self.config["page_size"], **({"after": cursor} if cursor else {})}
            page = self.transport.request("GET", "/contacts", params=params, kind="list contacts").json()
            for item in page["results"]:
                yield RemoteContact(system=self.name, record_id=str(item["id"]), email=item.get("email"))
            cursor = page.get("next")
            if not cursor:
                return

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        # `calls` is what the transport sent, retries included: `_counted` sets it, never count by hand
        return self._counted(lambda: self._push_unsubscribes(items))

    def _push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        report = WriteReport()
        for chunk in batched(items, BATCH_SIZE):
            body = {"inputs": [{"email": item.email, "opted_out": True} for item in chunk]}  # a state, not a toggle
            self.transport.request("POST", "/contacts/batch/update", json=body, kind="unsubscribe batch")
            report.applied += len(chunk)
        return report

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        raise NotImplementedError  # declare Capability.TAG_CONSENT when implemented

    def webhook_verifier(self) -> WebhookVerifier:
        raise NotImplementedError  # declare Capability.RECEIVE_WEBHOOKS when implemented

    def parse_webhook(self, request: WebhookRequest) -> Sequence[InboundEvent]:
        raise NotImplementedError
