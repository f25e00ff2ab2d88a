"""The package boundary of STYLE.md and the public surface of `sdk`.

`sdk` imports neither `connectors`, `webhook_server` nor `flask`: checked statically on every source file, and at
run time by importing every module with those packages made unimportable.
"""

import ast
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from consentry import sdk

SDK = Path(sdk.__file__).parent
FORBIDDEN = frozenset({"consentry.connectors", "consentry.webhook_server", "flask"})
SOURCES = sorted(SDK.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = ("consentry", *path.relative_to(SDK.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(source: str, package: str) -> list[str]:
    """Every module some code imports, relative imports resolved against `package`, plus the literal arguments of
    import_module("...") and __import__("...")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = parts[: max(len(parts) - (node.level - 1), 0)]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append(node.args[0].value)
    return found


def crossings(source: str, package: str) -> list[str]:
    return [name for name in imported_modules(source, package) if _within(name, FORBIDDEN)]


def _within(name: str, packages) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def test_the_walk_sees_every_part_of_the_package():
    names = {module_name(path) for path in SOURCES}
    assert {
        "consentry.sdk",
        "consentry.sdk.cli",
        "consentry.sdk.rules",
        "consentry.sdk.rules.fr.phone",
        "consentry.sdk.store",
    } <= names
    assert len(SOURCES) > 40


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(SDK)))
def test_no_sdk_module_imports_connectors_the_web_server_or_flask(path):
    assert crossings(path.read_text(encoding="utf-8"), package_of(path)) == []


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("import flask\n", ["flask"]),
        ("from flask import Flask\n", ["flask", "flask.Flask"]),
        ("import consentry.connectors.hubspot as hubspot\n", ["consentry.connectors.hubspot"]),
        (
            "from consentry.webhook_server.app import create_app\n",
            ["consentry.webhook_server.app", "consentry.webhook_server.app.create_app"],
        ),
        (
            "from ....connectors import registry\n",
            ["consentry.connectors", "consentry.connectors.registry"],
        ),  # above sdk
        ("from ...rules import fr\nfrom .. import messages\n", []),  # relative imports that stay inside sdk
        (
            "import importlib\nimportlib.import_module('consentry.webhook_server.worker')\n",
            ["consentry.webhook_server.worker"],
        ),
        ("from . import flask_helpers\nimport flaskish\n", []),  # names that merely start alike
    ],
)
def test_the_import_walk_catches_each_way_of_crossing(source, caught):
    # As if written in sdk/rules/fr/phone.py, two packages below sdk.
    assert crossings(source, "consentry.sdk.rules.fr") == caught


def test_relative_imports_are_resolved_against_their_package():
    assert imported_modules("from .. import _common\nfrom .phone import x\n", "consentry.sdk.rules.fr") == [
        "consentry.sdk.rules",
        "consentry.sdk.rules._common",
        "consentry.sdk.rules.fr.phone",
        "consentry.sdk.rules.fr.phone.x",
    ]


def test_every_sdk_module_imports_without_connectors_the_web_server_or_flask():
    modules = sorted(info.name for info in pkgutil.walk_packages(sdk.__path__, "consentry.sdk."))
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for blocked in {sorted(FORBIDDEN)!r}:
            sys.modules[blocked] = None  # any import of it now raises ImportError
        for name in {modules!r}:
            importlib.import_module(name)
        forbidden = {sorted(FORBIDDEN)!r}
        leaked = sorted(
            n for n in sys.modules if any(n == f or n.startswith(f + ".") for f in forbidden) and sys.modules[n]
        )
        assert not leaked, leaked
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


# -- the public surface ---------------------------------------------------------------------------------------------


def test_sdk_declares_its_public_names():
    assert isinstance(sdk.__all__, list | tuple)
    assert sdk.__all__
    assert all(isinstance(name, str) for name in sdk.__all__)
    assert len(set(sdk.__all__)) == len(sdk.__all__)
    assert not [name for name in sdk.__all__ if name.startswith("_")]


@pytest.mark.parametrize("name", getattr(sdk, "__all__", ()))
def test_every_public_name_is_importable_from_sdk(name):
    namespace: dict = {}
    exec(f"from consentry.sdk import {name}", namespace)
    assert namespace[name] is getattr(sdk, name)


def test_star_import_gives_exactly_the_public_names():
    namespace: dict = {}
    exec("from consentry.sdk import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(sdk.__all__)


@pytest.mark.parametrize(
    "name",
    ["evaluate", "request_from_fields", "next_lawful_call", "explain", "Decision", "Facts", "InvalidInputError"],
)
def test_the_names_these_tests_rely_on_are_public(name):
    assert name in sdk.__all__
