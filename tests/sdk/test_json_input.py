"""JSON from outside is measured before it is parsed: too deep a document is invalid JSON, never a RecursionError."""

import json

import pytest

from consentry.sdk.json_input import MAX_DEPTH, TooDeeplyNested, check_nesting


@pytest.mark.parametrize("kind", [str, bytes])
def test_nesting_up_to_the_limit_parses_and_one_level_more_is_refused(kind):
    def document(depth: int):
        text = "[" * depth + "]" * depth
        return text.encode() if kind is bytes else text

    assert check_nesting(document(MAX_DEPTH)) is None  # at the limit: parsed as usual
    with pytest.raises(TooDeeplyNested):
        check_nesting(document(MAX_DEPTH + 1))


def test_brackets_inside_strings_nest_nothing():
    text = json.dumps([{"note": "[" * 500 + '\\"{' * 300, "list": [1, 2]}] * 100)
    check_nesting(text)
    assert json.loads(text)[99]["list"] == [1, 2]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # far past the interpreter's recursion limit
        b'[{"a":' * 50_000 + b"1" + b"}]" * 50_000,
        b"[[]" * 1_000 + b"]" * 1_000,  # one level more at each step, with a closed array in between
        b"[" * 100,  # brackets that never close
    ],
)
def test_a_hostile_document_is_invalid_json_without_recursing(body):
    with pytest.raises(json.JSONDecodeError, match=f"nested deeper than {MAX_DEPTH} levels"):
        check_nesting(body)


def test_a_wide_document_is_no_deeper_than_its_nesting():
    batch = {"contacts": [{"email": f"p{n}@example.com", "facts": {"tags": ["a", "b"]}} for n in range(1_000)]}
    document = json.dumps(batch).encode()
    check_nesting(document)
    assert json.loads(document) == batch
