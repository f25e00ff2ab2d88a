"""The package is typed (PEP 561): each part ships its py.typed marker, and `make test` runs mypy (strict on
consentry.sdk, as pyproject.toml's [tool.mypy] says) before the tests."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("package", "folder"),
    [("consentry.sdk", "sdk"), ("consentry.connectors", "connectors"), ("consentry.webhook_server", "webhook_server")],
)
def test_each_package_ships_its_py_typed_marker(package, folder):
    assert (ROOT / folder / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "py.typed" in package_data["package-data"][package]


def test_make_test_runs_mypy_on_every_package_before_the_tests():
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert recipe is not None
    lines = recipe.group(1).replace("\\\n", " ").splitlines()  # a command continued over lines is one
    packages = ("-p consentry.sdk", "-p consentry.connectors", "-p consentry.webhook_server")
    mypy = next(index for index, line in enumerate(lines) if "mypy" in line and all(p in line for p in packages))
    pytest_line = next(index for index, line in enumerate(lines) if "pytest" in line)
    assert mypy < pytest_line


def test_mypy_checks_the_sdk_with_every_strict_flag():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    sdk = next(section for section in config["overrides"] if "consentry.sdk.*" in section["module"])
    strict_flags = {
        "warn_return_any",
        "disallow_untyped_calls",
        "disallow_untyped_defs",
        "disallow_incomplete_defs",
        "disallow_untyped_decorators",
        "disallow_subclassing_any",
        "disallow_any_generics",
        "check_untyped_defs",
        "no_implicit_reexport",
        "strict_equality",
        "extra_checks",
    }
    assert {flag for flag in strict_flags if sdk.get(flag) is True} == strict_flags
    assert not [flag for flag, value in sdk.items() if flag != "module" and value is False]
