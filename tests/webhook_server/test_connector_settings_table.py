"""README's table of each built-in connector's settings names every setting of its schema and no other, secrets
in bold (the settings every connector takes, AUDIENCE and JURISDICTION among them, are in the paragraph below it)."""

import re
from pathlib import Path

import pytest

from consentry.connectors.base import ConnectorConfig
from consentry.connectors.registry import BUILTIN, connector_class

README = Path(__file__).resolve().parents[2] / "README.md"
# Described in the paragraph below the table, for every connector.
COMMON = {"AUDIENCE", "JURISDICTION"}
# Declared but read by nothing, so not documented: the advertiser is CONSENTRY_ADVERTISER's, Salesforce's API address
# comes with its token (LOGIN_URL is its setting).
UNUSED = {"mailchimp": {"ADVERTISER"}, "hubspot": {"ADVERTISER"}, "salesforce": {"ADVERTISER", "BASE_URL"}}


def connector_rows() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n### Connectors and their sandboxes\n", 1)[1].split("\n### ", 1)[0]
    return dict(re.findall(r"^\| `([a-z]+)` \| (.*) \|$", section, flags=re.MULTILINE))


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_the_readme_names_each_setting_of_the_connector_and_its_secrets_in_bold(name):
    schema = connector_class(name).config_schema()
    cell = connector_rows()[name]
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", cell))
    assert documented == {field.upper() for field in schema.fields} - COMMON - UNUSED[name]
    bold = set(re.findall(r"\*\*`([A-Z][A-Z_]+)`\*\*", cell))
    assert bold == {field.upper() for field, item in schema.fields.items() if item.metadata.get("secret")}


def test_the_settings_every_connector_takes_are_described_below_the_table():
    assert COMMON | {"ADVERTISER", "BASE_URL"} == {name.upper() for name in ConnectorConfig().fields}
    text = README.read_text(encoding="utf-8").split("\n### Connectors and their sandboxes\n", 1)[1]
    assert all(f"`{name}`" in text for name in COMMON)
