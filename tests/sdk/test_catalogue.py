"""The catalogue the engine and the published reference (docs/rules/) read: every fact, reason code and condition
is described once, in sdk/rules/data/."""

import ast
import re
from datetime import date
from importlib import resources
from pathlib import Path

import yaml

from consentry.sdk import catalogue, evaluate, request_from_fields
from consentry.sdk.catalogue import REASON_JURISDICTIONS, FactInfo, WhenUnknown


def _top_level_keys(name: str) -> list[str]:
    """The keys of a data file as written, duplicates included (loading it would keep only the last one)."""
    text = resources.files("consentry.sdk.rules").joinpath("data", name).read_text(encoding="utf-8")
    node = yaml.compose(text)
    return [key.value for key, _value in node.value]


def test_every_declared_fact_has_exactly_one_entry_and_every_entry_is_a_declared_fact():
    written = _top_level_keys("facts.yaml")
    duplicates = sorted({key for key in written if written.count(key) > 1})
    assert not duplicates, f"facts.yaml describes these facts twice: {duplicates}"
    declared = catalogue.declared_facts()
    assert sorted(declared - set(written)) == [], "facts of sdk/facts.py missing from sdk/rules/data/facts.yaml"
    assert sorted(set(written) - declared) == [], "entries of facts.yaml that sdk/facts.py does not declare"


def test_every_fact_has_a_meaning_a_type_in_words_and_a_reading_of_unknown():
    for key, info in catalogue.facts().items():
        assert info.key == key
        assert info.meaning.strip(), key
        assert info.type, key
        assert isinstance(info.when_unknown, WhenUnknown), key


def test_fact_types_are_read_from_the_annotations():
    facts = catalogue.facts()
    assert facts["bloctel_registered"].type == "yes/no"
    assert facts["tps_registered"].type == "yes/no/unknown"
    assert facts["calls_in_last_30_days"].type == "whole number"
    assert facts["consent_date"].type == "date"
    assert facts["specific_slot_consent"].type == "date and time"
    assert facts["callee_local_time"].type == "time of day"
    assert facts["callee_timezone"].type == "IANA time zone"
    assert facts["offer"].type == "text"
    assert facts["consent_proof_fields"].type == "list of words"


def test_a_closed_vocabulary_is_listed_with_the_type():
    facts = catalogue.facts()
    assert facts["consent_state"].type.startswith("text, one of: ")
    assert "opt_in" in facts["consent_state"].type
    assert facts["robinson_channels"].type.startswith("list of words, each one of: ")


def test_the_examples_of_the_issue_read_unknown_as_it_says():
    facts = catalogue.facts()
    assert facts["bloctel_registered"] == FactInfo(
        "bloctel_registered", "yes/no", facts["bloctel_registered"].meaning, WhenUnknown.AGAINST
    )
    for key in ("withdrawal_date", "objection_date", "opted_out_on", "suppression_date", "refused_during_call_date"):
        assert facts[key].when_unknown is WhenUnknown.NONE, key
    for key in ("consent_date", "consent_documented", "consent_proof_stored", "similar_product", "tps_registered"):
        assert facts[key].when_unknown is WhenUnknown.AGAINST, key


RULES_DIR = Path(catalogue.__file__).parent / "rules"
CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def _cited_codes() -> dict[str, set[str]]:
    """Every reason code the rule modules write: the literal first argument of forbid, permit and note, and every
    other upper-case string (tables of codes such as the invalid consent mechanisms)."""
    cited: dict[str, set[str]] = {}
    for path in sorted(RULES_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
                cited.setdefault(node.value, set()).add(str(path.relative_to(RULES_DIR)))
    return cited


def _call_codes() -> set[str]:
    found = set()
    for path in RULES_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"forbid", "permit", "note"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_code_the_rules_cite_is_in_the_catalogue():
    known = catalogue.reasons()
    assert _call_codes(), "the scan found no forbid/permit/note call: the test no longer reads the rules"
    assert sorted(_call_codes() - set(known)) == []
    missing = {code: sorted(where) for code, where in _cited_codes().items() if code not in known}
    assert missing == {}, f"reason codes used in sdk/rules but absent from sdk/rules/data/reasons.yaml: {missing}"


def test_every_reason_code_has_a_title_and_a_jurisdiction():
    written = _top_level_keys("reasons.yaml")
    assert sorted({key for key in written if written.count(key) > 1}) == []
    for code, info in catalogue.reasons().items():
        assert info.title.strip(), code
        assert len(info.title) <= 50, f"{code}: a title is a few words"
        assert ";" not in info.title, f"{code}: ';' separates the titles of a CSV cell"
        assert info.jurisdiction in REASON_JURISDICTIONS, code
        prefix = code.split("_")[0]
        if prefix in {"FR", "DE", "IT", "ES", "BE", "NL", "UK", "US"}:
            assert info.jurisdiction == prefix, f"{code} is a code of {prefix}"
        elif prefix == "GDPR":
            assert info.jurisdiction == "EU", code
        else:
            assert info.jurisdiction == "any", code
        assert info.label == f"{code} ({info.title})"


def test_dates_in_force_are_ordered_and_are_dates_the_rules_use():
    rule_dates = set()
    for path in RULES_DIR.rglob("*.py"):
        for year, month, day in re.findall(r"\bdate\((\d{4}), (\d{1,2}), (\d{1,2})\)", path.read_text()):
            rule_dates.add(date(int(year), int(month), int(day)))
    for code, info in catalogue.reasons().items():
        for day in (info.in_force_from, info.in_force_until):
            assert day is None or day in rule_dates, f"{code}: {day} is no date of sdk/rules"
        if info.in_force_from and info.in_force_until:
            assert info.in_force_from <= info.in_force_until, code


def test_a_decision_carries_each_reason_title_and_keeps_its_former_keys():
    request = request_from_fields(
        {
            "jurisdiction": "FR",
            "channel": "email",
            "audience": "b2c",
            "evaluated_at": "2026-09-15T11:00:00+02:00",
            "facts": {"consent_state": "none"},
        }
    )
    reasons = evaluate(request).to_dict()["reasons"]
    assert reasons
    for entry in reasons:
        assert {"code", "effect", "summary", "detail", "confidence", "sources"} <= set(entry)
        assert entry["title"] == catalogue.reason(entry["code"]).title
