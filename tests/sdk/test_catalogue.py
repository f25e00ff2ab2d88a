"""The catalogue the engine and the published reference (docs/rules/) read: every fact, reason code and condition
is described once, in sdk/rules/data/."""

from importlib import resources

import yaml

from consentry.sdk import catalogue
from consentry.sdk.catalogue import FactInfo, WhenUnknown


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
