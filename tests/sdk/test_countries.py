import pytest

from consentry.sdk.countries import jurisdiction_of_country


@pytest.mark.parametrize(
    ("recorded", "jurisdiction"),
    [
        ("FR", "FR"),
        ("fra", "FR"),
        (" France ", "FR"),
        ("germany", "DE"),
        ("United Kingdom", "UK"),
        ("GB", "UK"),
        ("uk", "UK"),
        ("United States", "US"),
        ("Réunion", "FR"),  # an overseas region of France
        ("Japan", None),  # no rules for it: the connector's jurisdiction applies
        ("Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_a_recorded_country_names_the_jurisdiction_whose_rules_apply(recorded, jurisdiction):
    assert jurisdiction_of_country(recorded) == jurisdiction
