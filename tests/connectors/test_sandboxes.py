"""Each connector's sandbox is a subpackage of its own, found through the registry, driven through one interface,
and never loaded by the production code of a connector."""

import subprocess
import sys
import textwrap

import pytest

from consentry.connectors import registry
from consentry.connectors.sandbox_kit import INTERFACE, Person, ServerThread
from consentry.sdk.cli import main
from consentry.sdk.errors import ConfigurationError

BUILT_IN = ["mailchimp", "hubspot", "salesforce"]


def test_the_registry_lists_the_sandbox_of_every_built_in_connector_in_its_own_subpackage():
    assert registry.sandboxes() == BUILT_IN
    for name in BUILT_IN:
        package = registry.sandbox(name)
        assert package.__name__ == f"consentry.connectors.{name}.sandbox"
        assert package.__file__.endswith(f"{name}/sandbox/__init__.py")
        assert set(INTERFACE) <= set(package.__all__)


def test_a_connector_without_a_sandbox_is_not_listed_and_asking_for_it_says_so(monkeypatch):
    monkeypatch.setitem(registry._REGISTERED, "template", "consentry.connectors._template.connector:TemplateConnector")
    assert "template" in registry.available()
    assert registry.sandboxes() == BUILT_IN
    with pytest.raises(ConfigurationError, match="ships no sandbox"):
        registry.sandbox("template")


def test_the_sandbox_command_refuses_an_unknown_connector(capsys):
    assert main(["sandbox", "nosuch"]) == 2
    assert "no connector named 'nosuch'" in capsys.readouterr().err


def test_the_connectors_production_code_never_loads_a_sandbox():
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        from consentry.connectors import registry
        for name in {BUILT_IN!r}:
            registry.connector_class(name)
            vendor = importlib.import_module(f"consentry.connectors.{{name}}")
            for module in pkgutil.iter_modules(vendor.__path__):
                if module.name != "sandbox":
                    importlib.import_module(f"{{vendor.__name__}}.{{module.name}}")
        loaded = sorted(n for n in sys.modules if ".sandbox" in n or n.endswith("sandbox_kit"))
        assert not loaded, loaded
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_sandbox_answers_the_common_interface(name):
    package = registry.sandbox(name)
    settings, again = package.connector_settings("http://127.0.0.1:9"), package.connector_settings("http://127.0.0.1:9")
    assert settings
    assert all(key.startswith(f"CONSENTRY_{name.upper()}_") for key in settings)
    assert "http://127.0.0.1:9" in settings.values()
    tokens = [key for key in settings if key.endswith("_TOKEN") and "ACCESS" not in key]
    assert all(settings[key] != again[key] for key in tokens)  # webhook tokens are fresh each time
    with ServerThread(package.create_app()) as sandbox:
        package.seed(sandbox.url, [Person(email="ann@example.com", first_name="Ann", last_name="Martin")])
        package.seed(sandbox.url, [Person(email="bob@example.com", opted_out=True, company="Example SA")])
        assert package.opted_out(sandbox.url, "ann@example.com") is False
        assert package.opted_out(sandbox.url, "bob@example.com") is True
        package.unsubscribe(sandbox.url, "ann@example.com")
        assert package.opted_out(sandbox.url, "ann@example.com") is True
