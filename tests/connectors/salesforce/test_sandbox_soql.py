"""The sandbox's SOQL subset and record ids, without a server: what a query selects, in which order, and the ids'
case-encoding suffix (checked against an id from Salesforce's own documentation)."""

import pytest

from consentry.connectors.salesforce.sandbox import record_ids, schema
from consentry.connectors.salesforce.sandbox.soql import QueryError, compile_query

SCHEMA = schema.build()
OBJECTS = {name.lower(): sobject for name, sobject in SCHEMA.items()}


def rows() -> list[dict]:
    base = {"IsDeleted": False, "HasOptedOutOfEmail": False, "DoNotCall": False}
    return [
        {
            **base,
            "Id": record_ids.make("003", 1),
            "LastName": "Ames",
            "Email": "Ann@Example.com",
            "SystemModstamp": "2024-01-01T10:00:00.000+0000",
        },
        {
            **base,
            "Id": record_ids.make("003", 2),
            "LastName": "bell",
            "Email": None,
            "DoNotCall": True,
            "SystemModstamp": "2024-02-01T10:00:00.000+0000",
        },
        {
            **base,
            "Id": record_ids.make("003", 3),
            "LastName": "Cole",
            "Email": "cy@example.com",
            "HasOptedOutOfEmail": True,
            "SystemModstamp": "2024-03-01T10:00:00.000+0000",
        },
        {
            **base,
            "Id": record_ids.make("003", 4),
            "LastName": "100% Dale",
            "Email": "dee_x@example.org",
            "SystemModstamp": "2024-04-01T10:00:00.000+0000",
        },
    ]


def names(soql: str) -> list[str]:
    return [row["LastName"] for row in compile_query(soql, lambda n: OBJECTS.get(n.lower())).run(rows())]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Email = 'ann@example.com'", ["Ames"]),  # text equality ignores case
        ("Email != null", ["Ames", "Cole", "100% Dale"]),
        ("Email = null", ["bell"]),
        ("Email IN ('CY@example.com', 'nobody@example.com')", ["Cole"]),
        ("Email NOT IN ('cy@example.com')", ["Ames", "bell", "100% Dale"]),
        ("Email LIKE '%@example.com'", ["Ames", "Cole"]),
        ("Email LIKE 'dee\\_x%'", ["100% Dale"]),
        ("LastName LIKE '100\\%%'", ["100% Dale"]),
        ("LastName LIKE 'B_LL'", ["bell"]),
        ("DoNotCall = true OR HasOptedOutOfEmail = true", ["bell", "Cole"]),
        ("NOT (DoNotCall = true OR HasOptedOutOfEmail = true)", ["Ames", "100% Dale"]),
        ("(DoNotCall = false AND HasOptedOutOfEmail = false) AND Email LIKE '%org'", ["100% Dale"]),
        ("SystemModstamp > 2024-02-01T10:00:00Z", ["Cole", "100% Dale"]),
        ("SystemModstamp >= 2024-02-01T11:00:00+01:00", ["bell", "Cole", "100% Dale"]),
        ("SystemModstamp < 2024-01-15T00:00:00.000Z", ["Ames"]),
        ("Email > 'b'", ["Cole", "100% Dale"]),  # a null is neither greater nor smaller
        (f"Id = '{record_ids.make('003', 2)[:15]}'", ["bell"]),  # a 15-character id literal
    ],
)
def test_conditions(where, expected):
    assert names(f"select LastName from contact where {where}") == expected


def test_order_limit_offset_and_nulls():
    assert names("SELECT LastName FROM Contact ORDER BY LastName") == ["100% Dale", "Ames", "bell", "Cole"]
    assert names("SELECT LastName FROM Contact ORDER BY Email") == ["bell", "Ames", "Cole", "100% Dale"]
    assert names("SELECT LastName FROM Contact ORDER BY Email DESC") == ["100% Dale", "Cole", "Ames", "bell"]
    assert names("SELECT LastName FROM Contact ORDER BY Email ASC NULLS LAST") == ["Ames", "Cole", "100% Dale", "bell"]
    assert names("SELECT LastName FROM Contact ORDER BY DoNotCall DESC, LastName LIMIT 2") == ["bell", "100% Dale"]
    assert names("SELECT LastName FROM Contact ORDER BY SystemModstamp LIMIT 2 OFFSET 1") == ["bell", "Cole"]


def test_fields_are_answered_with_their_own_spelling():
    query = compile_query("SELECT email, ID, Email FROM CONTACT", lambda n: OBJECTS.get(n.lower()))
    assert (query.sobject.name, query.fields) == ("Contact", ["Email", "Id"])
    assert compile_query("SELECT COUNT() FROM Lead", lambda n: OBJECTS.get(n.lower())).count is True


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id Contact", "MALFORMED_QUERY"),
        ("SELECT Id, FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'bad \\q escape'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email IN 'a'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact ORDER BY", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
        ("SELECT Account.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-01", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE DoNotCall > false", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE DoNotCall LIKE 'x'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_refusals(soql, code):
    with pytest.raises(QueryError) as refused:
        compile_query(soql, lambda n: OBJECTS.get(n.lower()))
    assert refused.value.code == code


def test_ids_carry_a_suffix_that_encodes_their_case():
    documented = "001D000000IRFmaIAH"  # an Account id in Salesforce's REST API documentation
    assert record_ids.suffix(documented[:15]) == "IAH"
    assert record_ids.normalize(documented[:15]) == documented
    assert record_ids.normalize(documented.lower()) == documented  # the suffix restores the case
    assert (
        record_ids.normalize("001D000000IRFmaIAB") is None or record_ids.normalize("001D000000IRFmaIAB") != documented
    )
    assert record_ids.normalize("not-an-id") is None
    assert record_ids.normalize("003" + "x" * 13) is None  # 16 characters
    made = record_ids.make("00Q", 62**2 + 5)
    assert (made[:3], len(made), record_ids.normalize(made)) == ("00Q", 18, made)
    assert record_ids.make("003", 1) != record_ids.make("003", 2)
