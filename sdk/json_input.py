"""JSON from outside (webhook deliveries, API requests), refused when nested deeper than any real payload.

`json.loads` recurses once per level of nesting: a body of a hundred thousand `[` reaches the interpreter's
recursion limit, and while the stack is that deep, any finalizer the garbage collector runs fails too. So the
nesting is measured first, without recursion, and a body nested deeper than `MAX_DEPTH` is an invalid document
(a `json.JSONDecodeError`, which every caller already answers with a 400), never a RecursionError.

The measure costs two counts for a document with fewer brackets than `MAX_DEPTH`, and a few C passes over a larger
one (2.7 ms for an API batch of 1,000 contacts, where parsing takes 1 ms). A hostile document of 200 KB nested to
the limit costs up to 0.15 s; it only comes from a caller who holds an API key or a webhook secret, both checked
before any body is read.
"""

import json
import re

MAX_DEPTH = 64  # real payloads nest 5 levels at most (an API batch: contacts, a contact, its facts, a list)

# A JSON string, escapes included: the brackets inside one do not nest anything.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# An array or object with no other inside it: removing every one of them peels one level of nesting.
_INNERMOST = re.compile(rb"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")
_BRACKET = re.compile(rb"[\[\]{}]")


class TooDeeplyNested(json.JSONDecodeError):
    """A document nested deeper than `MAX_DEPTH`."""


def check_nesting(document: str | bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise TooDeeplyNested when arrays and objects nest deeper than `max_depth` in `document`."""
    raw = document.encode() if isinstance(document, str) else bytes(document)
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # too few brackets to nest that deep: the common case, two counts and no scan
    rest = _STRING.sub(b"", raw)
    for _ in range(max_depth):  # one pass per level, each in C: no Python loop over the characters
        rest, peeled = _INNERMOST.subn(b"", rest)
        if not peeled:
            break
    if _BRACKET.search(rest):  # more levels than passes, or brackets that never close: either way not a document
        text = raw.decode("utf-8", "replace")
        raise TooDeeplyNested(f"nested deeper than {max_depth} levels, or not closed", text, 0)
