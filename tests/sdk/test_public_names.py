"""Connectors and the web server use the SDK through its public names only (issue 20, item 7).

A public module of the SDK that declares `__all__` lists every name other packages import from it; no other
package imports a private module (`consentry.sdk._x`, `consentry.sdk.rules._common`) or a private name.
"""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK_MODULES = ["consentry.sdk.consent_state", "consentry.sdk.errors", "consentry.sdk.http", "consentry.sdk.webhooks"]


def sdk_imports():
    """(file, module, name) for every `from consentry.sdk... import name` in connectors/ and webhook_server/."""
    for folder in ("connectors", "webhook_server"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.level == 0
                    and (node.module or "").startswith("consentry.sdk")
                ):
                    for alias in node.names:
                        yield path.relative_to(ROOT).as_posix(), node.module, alias.name
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.startswith("consentry.sdk"):
                            yield path.relative_to(ROOT).as_posix(), alias.name, None


def is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ModuleNotFoundError:
        return False
    return True


def test_no_other_package_imports_a_private_sdk_module_or_name():
    private = [
        (path, module, name)
        for path, module, name in sdk_imports()
        if any(part.startswith("_") for part in module.split(".")) or (name or "").startswith("_")
    ]
    assert private == []


def test_names_imported_from_a_module_with_all_are_in_its_all():
    missing = []
    for path, module, name in sdk_imports():
        if name is None or is_module(f"{module}.{name}"):
            continue  # a module, not a name: `from consentry.sdk import retention`
        exported = getattr(importlib.import_module(module), "__all__", None)
        if exported is not None and name not in exported:
            missing.append((path, module, name))
    assert missing == []


@pytest.mark.parametrize("module", SDK_MODULES)
def test_the_modules_connector_authors_use_declare_their_public_names(module):
    imported = importlib.import_module(module)
    assert len(set(imported.__all__)) == len(imported.__all__)
    assert not [name for name in imported.__all__ if name.startswith("_")]
    assert all(hasattr(imported, name) for name in imported.__all__)
