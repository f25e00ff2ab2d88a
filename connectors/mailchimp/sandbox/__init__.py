"""Mailchimp's sandbox: a local, stateful Mailchimp Marketing API for tests and the demo, never used by the
connector itself.

`app` wires the emulator (tags, permissions, batches and permanent deletes in their modules beside it); `control`
is the interface every sandbox shares (`consentry.connectors.sandbox_kit.SandboxPackage`), through which the stack
and the demo drive it.
"""

from .app import DEFAULT_API_KEY, DEFAULT_LIST_ID, MailchimpSandbox, create_app
from .common import subscriber_hash
from .control import connector_settings, erase_in_vendor, holds, opted_out, point_webhooks, seed, unsubscribe

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_LIST_ID",
    "MailchimpSandbox",
    "connector_settings",
    "create_app",
    "erase_in_vendor",
    "holds",
    "opted_out",
    "point_webhooks",
    "seed",
    "subscriber_hash",
    "unsubscribe",
]
