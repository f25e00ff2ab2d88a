"""Connectors to the CRMs and mailing tools: the base class and data types a connector is written with, and the
registry that finds the built-in ones and third-party ones (entry-point group `consentry.connectors`).

A new connector starts from `connectors/_template/` and is proved by `consentry.connectors.conformance`."""

from .base import (
    OPT_OUTS,
    RIGHTS_REQUESTS,
    Capability,
    Connector,
    ConnectorConfig,
    ConsentTag,
    DataSubject,
    ErasureReport,
    ExportedRecord,
    InboundEvent,
    RemoteContact,
    Unsubscribe,
    WebhookAnswer,
    WriteReport,
    batched,
    secret_field,
)
from .registry import available, connector_class, create, register

__all__ = [
    "OPT_OUTS",
    "RIGHTS_REQUESTS",
    "Capability",
    "Connector",
    "ConnectorConfig",
    "ConsentTag",
    "DataSubject",
    "ErasureReport",
    "ExportedRecord",
    "InboundEvent",
    "RemoteContact",
    "Unsubscribe",
    "WebhookAnswer",
    "WriteReport",
    "available",
    "batched",
    "connector_class",
    "create",
    "register",
    "secret_field",
]
