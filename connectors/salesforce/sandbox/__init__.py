"""Salesforce's sandbox: a local, stateful Salesforce org for tests and the demo, never used by the connector
itself.

`app` wires the emulator (one module per concern beside it: REST, SOQL, Bulk API 2.0, outbound messages ...);
`control` is the interface every sandbox shares (`consentry.connectors.sandbox_kit.SandboxPackage`), through
which the stack and the demo drive it.
"""

from .app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_USER_ID,
    DEFAULT_USERNAME,
    SalesforceSandbox,
    create_app,
)
from .control import connector_settings, erase_in_vendor, holds, opted_out, point_webhooks, seed, unsubscribe

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_ORG_ID",
    "DEFAULT_USERNAME",
    "DEFAULT_USER_ID",
    "SalesforceSandbox",
    "connector_settings",
    "create_app",
    "erase_in_vendor",
    "holds",
    "opted_out",
    "point_webhooks",
    "seed",
    "unsubscribe",
]
