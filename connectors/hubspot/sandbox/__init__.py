"""HubSpot's sandbox: a local, stateful HubSpot for tests and the demo, never used by the connector itself.

`app` wires the emulator (one module per concern beside it); `control` is the interface every sandbox shares
(`consentry.connectors.sandbox_kit.SandboxPackage`), through which the stack and the demo drive it.
"""

from .app import (
    APP_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_DEVELOPER_API_KEY,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_TOKEN,
    PORTAL_ID,
    HubSpotSandbox,
    create_app,
)
from .control import connector_settings, erase_in_vendor, holds, opted_out, point_webhooks, seed, unsubscribe

__all__ = [
    "APP_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_DEVELOPER_API_KEY",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_TOKEN",
    "PORTAL_ID",
    "HubSpotSandbox",
    "connector_settings",
    "create_app",
    "erase_in_vendor",
    "holds",
    "opted_out",
    "point_webhooks",
    "seed",
    "unsubscribe",
]
