"""Where connectors are found: the built-in ones, and third-party ones through the `consentry.connectors`
entry-point group (an entry `name = "package.module:ConnectorClass"`); and their sandboxes, which each connector
class names in its `sandbox` attribute."""

from importlib import import_module
from importlib.metadata import entry_points
from types import ModuleType

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


def sandbox(name: str) -> ModuleType:
    """The sandbox package of connector `name`, checked to offer the common interface (`sandbox_kit.INTERFACE`)."""
    from .sandbox_kit import INTERFACE  # sandbox machinery: loaded by those who run one, never by production code

    target = connector_class(name).sandbox
    if target is None:
        raise ConfigurationError(f"connector {name!r} ships no sandbox; with one: {', '.join(sandboxes()) or 'none'}")
    try:
        package = import_module(target)
    except ImportError:
        raise ConfigurationError(f"the sandbox of connector {name!r} cannot be loaded from {target}") from None
    missing = [attribute for attribute in INTERFACE if not callable(getattr(package, attribute, None))]
    if missing:
        raise ConfigurationError(f"the sandbox {target} lacks {', '.join(missing)}")
    return package


def sandboxes() -> list[str]:
    """The names of the available connectors that ship a sandbox, in the registry's order (built-in ones last)."""
    return [name for name in available() if connector_class(name).sandbox is not None]
