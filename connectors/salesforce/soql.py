"""The small SOQL subset the connector and its sandbox use: SELECT fields FROM object [WHERE conditions joined by
AND] [ORDER BY field [ASC|DESC]] [LIMIT n], with =, !=, <, <=, >, >= and IN, string, boolean, number and datetime
literals."""

import builtins
import re
from dataclasses import dataclass
from datetime import datetime

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?P<direction>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^\s*(?P<field>\w+)\s*(?P<op>!=|<=|>=|=|<|>|\bIN\b)\s*(?P<value>.+?)\s*$", re.IGNORECASE)


class MalformedQuery(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    fields: list[str]
    object: str
    # `object` is a field here, so the builtin is spelled out
    conditions: list[tuple[str, str, builtins.object]]
    order: str | None
    descending: bool
    limit: int | None


def parse(text: str) -> Query:
    match = _QUERY.match(text)
    if not match:
        raise MalformedQuery("unexpected token in the query")
    fields = [field.strip() for field in match["fields"].split(",")]
    if not all(re.fullmatch(r"\w+", field) for field in fields):
        raise MalformedQuery("only plain field names are supported")
    conditions = (
        [_condition(part) for part in re.split(r"\s+AND\s+", match["where"], flags=re.IGNORECASE)]
        if match["where"]
        else []
    )
    return Query(
        fields,
        match["object"],
        conditions,
        match["order"],
        (match["direction"] or "").upper() == "DESC",
        int(match["limit"]) if match["limit"] else None,
    )


def _condition(text: str) -> tuple[str, str, object]:
    match = _CONDITION.match(text)
    if not match:
        raise MalformedQuery("unexpected condition")
    op = match["op"].upper()
    raw = match["value"]
    if op == "IN":
        if not (raw.startswith("(") and raw.endswith(")")):
            raise MalformedQuery("IN needs a parenthesised list")
        return match["field"], op, [_literal(item) for item in _split_list(raw[1:-1])]
    return match["field"], op, _literal(raw)


def _split_list(text: str) -> list[str]:
    return [item for item in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s]+", text)]


def _literal(text: str):
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "null":
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise MalformedQuery("unknown literal") from None


def quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
