"""The rules reference in docs/rules/ is generated from the catalogue and committed: it must say what the engine
runs on, byte for byte."""

from pathlib import Path

import pytest

from consentry.sdk import catalogue, rules_docs
from consentry.sdk.cli import main

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "rules"
STALE = f"docs/rules/ no longer matches the catalogue in sdk/rules/data/: run `{rules_docs.COMMAND}` and commit it"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rules-docs")
    assert main(["rules", "docs", "--output", str(folder)]) == 0
    return folder


def test_the_committed_reference_is_the_one_the_catalogue_gives(generated):
    names = sorted(path.name for path in generated.iterdir())
    assert names == sorted(rules_docs.render()), "the command writes every page render() gives"
    committed = sorted(path.name for path in COMMITTED.glob("*.md")) if COMMITTED.is_dir() else []
    assert committed == names, STALE
    for name in names:
        assert (COMMITTED / name).read_bytes() == (generated / name).read_bytes(), f"{name}: {STALE}"


def test_rendering_twice_gives_the_same_bytes():
    assert rules_docs.render() == rules_docs.render()


def test_every_code_fact_condition_and_source_is_in_the_reference():
    pages = rules_docs.render()
    for code, info in catalogue.reasons().items():
        assert f"### {code}\n\n**{info.title}.** {info.summary}" in pages["reason-codes.md"]
        for source in info.sources:
            assert f"(`{source.key}`)" in pages["reason-codes.md"]
    for key, fact in catalogue.facts().items():
        assert f"| `{key}` | {fact.type} |" in pages["facts.md"]
    for code in catalogue.conditions():
        assert f"| `{code}` |" in pages["conditions.md"]
    for key, source in catalogue.sources().items():
        assert f"| `{key}` |" in pages["sources.md"]
        if source.url:
            assert f"]({source.url})" in pages["sources.md"]


def test_reason_codes_are_grouped_by_jurisdiction_and_sorted():
    page = rules_docs.render()["reason-codes.md"]
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings[0] == "## France (FR)"
    assert headings[-1] == "## Consentry's own codes (any)"
    france = page.split("## France (FR)")[1].split("\n## ")[0]
    codes = [line[4:] for line in france.splitlines() if line.startswith("### ")]
    assert codes == sorted(codes)
    assert all(catalogue.reason(code).jurisdiction == "FR" for code in codes)


def test_dated_codes_show_their_days_in_force():
    page = rules_docs.render()["reason-codes.md"]
    assert "### FR_PHONE_REFUSAL_60D" in page
    entry = page.split("### FR_PHONE_REFUSAL_60D")[1].split("###")[0]
    assert "- In force: 2023-03-01 to 2026-08-10" in entry
    entry = page.split("### FR_PHONE_B2C_OPTIN_2026")[1].split("###")[0]
    assert "- In force: from 2026-08-11" in entry


def test_the_index_links_every_page_and_explains_the_three_decisions():
    index = rules_docs.render()["README.md"]
    for name in ("reason-codes.md", "facts.md", "conditions.md", "sources.md"):
        assert f"]({name})" in index
    for verdict in ("allowed", "allowed_with_conditions", "forbidden"):
        assert f"**`{verdict}`**" in index
