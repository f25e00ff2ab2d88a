"""Where connectors are found: the built-in ones, and third-party ones through the `consentry.connectors`
entry-point group (an entry `name = "package.module:ConnectorClass"`)."""

from importlib import import_module
from importlib.metadata import entry_points

from consentry.sdk.errors import ConfigurationError

from .base import Connector

BUILTIN = {
    "mailchimp": "consentry.connectors.mailchimp.connector:MailchimpConnector",
    "hubspot": "consentry.connectors.hubspot.connector:HubSpotConnector",
    "salesforce": "consentry.connectors.salesforce.connector:SalesforceConnector",
}


_REGISTERED: dict[str, str] = {}


def register(name: str, target: str) -> None:
    """Register a connector in this process ("package.module:Class"), as an entry point would."""
    if name in BUILTIN:
        raise ConfigurationError(f"{name!r} is a built-in connector")
    _REGISTERED[name] = target


def available() -> dict[str, str]:
    """Connector names and where they come from; built-in names cannot be overridden."""
    found = {entry.name: entry.value for entry in entry_points(group="consentry.connectors")}
    return {**found, **_REGISTERED, **BUILTIN}


def connector_class(name: str) -> type[Connector]:
    target = available().get(name)
    if target is None:
        raise ConfigurationError(f"no connector named {name!r}; available: {', '.join(sorted(available()))}")
    module_name, _, attribute = target.partition(":")
    try:
        cls = getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise ConfigurationError(f"connector {name!r} cannot be loaded from {target}") from None
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigurationError(f"{target} is not a Connector")
    return cls


def create(name: str, config, **options) -> Connector:
    return connector_class(name)(config, **options)
