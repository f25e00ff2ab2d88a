"""The SOQL the sandbox understands, parsed as Salesforce parses it so that what Salesforce refuses is refused here.

Subset: `SELECT COUNT() | field, ... FROM object [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST],
...] [LIMIT n] [OFFSET n]`. Conditions: comparisons (=, !=, <>, <, <=, >, >=), `[NOT] IN (...)`, `LIKE`, `NOT`,
parentheses, and AND or OR (mixing them needs parentheses). Literals: 'strings' with backslash escapes, true, false,
null, numbers, datetimes (2024-01-31T10:00:00Z or with an offset) and dates. Keywords are case-insensitive, so are
field and object names; `=` and LIKE on text ignore case, as in Salesforce.

Errors carry Salesforce's codes (MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR) and
its message layout: the query line, a caret under the column, then `ERROR at Row:r:Column:c` and the reason.
Not supported: relationships, aggregates other than COUNT(), GROUP BY, date functions and date literals.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from . import record_ids
from .schema import Field, SObjectType, parse_datetime

KEYWORDS = frozenset(
    (
        *("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS"),
        *("FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "GROUP", "HAVING", "WITH", "FOR", "USING"),
        *("SCOPE", "TYPEOF", "INCLUDES", "EXCLUDES"),
    )
)
TEXT_TYPES = frozenset({"string", "email", "phone", "textarea", "picklist"})
MAX_OFFSET = 2000
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
    |(?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


class QueryError(Exception):
    def __init__(self, code: str, reason: str, position: int):
        super().__init__(reason)
        self.code, self.reason, self.position = code, reason, position

    def message(self, text: str) -> str:
        """Salesforce's layout: the line, a caret, `ERROR at Row:r:Column:c`, the reason."""
        before = text[: self.position]
        row = before.count("\n") + 1
        column = self.position - (before.rfind("\n") + 1) + 1
        line = text.split("\n")[row - 1]
        return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{self.reason}"


@dataclass(frozen=True)
class Token:
    kind: str  # ident, keyword, string, number, datetime, date, op, punct, eof
    text: str
    position: int
    value: object = None


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position] == "'":
                raise QueryError(
                    "MALFORMED_QUERY", f"line 1:{position} mismatched character '<EOF>' expecting '''", position
                )
            raise QueryError("MALFORMED_QUERY", f"unexpected token: '{text[position]}'", position)
        kind, raw = match.lastgroup or "", match.group()
        if kind == "string":
            tokens.append(Token("string", raw, position, _unescape(raw, position)))
        elif kind == "ident" and raw.upper() in KEYWORDS:
            tokens.append(Token("keyword", raw.upper(), position))
        elif kind != "space":
            tokens.append(Token(kind, raw, position))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


def _unescape(raw: str, position: int) -> str:
    out, index, body = [], 0, raw[1:-1]
    while index < len(body):
        char = body[index]
        if char == "\\":
            follower = body[index + 1]
            if follower in _ESCAPES:
                out.append(_ESCAPES[follower])
            elif follower in "%_":
                out.append("\\" + follower)  # kept for LIKE, where it means a literal % or _
            else:
                raise QueryError(
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{follower}' in string literal.",
                    position,
                )
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


# -- syntax -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    text: str
    position: int


@dataclass(frozen=True)
class Compare:
    name: Name
    op: str
    literals: tuple[Token, ...]  # one for comparisons and LIKE, several for IN


@dataclass(frozen=True)
class Junction:
    op: str  # AND, OR, NOT
    items: tuple


@dataclass(frozen=True)
class Order:
    name: Name
    descending: bool
    nulls_last: bool


@dataclass
class Statement:
    count: bool
    fields: list[Name]
    source: Name
    where: object | None = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def accept(self, *keywords: str) -> bool:
        if self.current.kind == "keyword" and self.current.text in keywords:
            self.index += 1
            return True
        return False

    def expect(self, keyword: str) -> None:
        if not self.accept(keyword):
            self.fail()

    def fail(self, token: Token | None = None):
        token = token or self.current
        shown = "<EOF>" if token.kind == "eof" else f"'{token.text}'"
        raise QueryError("MALFORMED_QUERY", f"unexpected token: {shown}", token.position)

    def name(self) -> Name:
        token = self.current
        if token.kind != "ident":
            self.fail()
        self.index += 1
        return Name(token.text, token.position)

    def punct(self, char: str) -> None:
        if self.current.kind != "punct" or self.current.text != char:
            self.fail()
        self.index += 1

    def statement(self) -> Statement:
        self.expect("SELECT")
        count, fields = False, []
        if (
            self.current.kind == "ident"
            and self.current.text.upper() == "COUNT"
            and self.tokens[self.index + 1].text == "("
        ):
            self.index += 1
            self.punct("(")
            self.punct(")")
            count = True
        else:
            fields.append(self.name())
            while self.current.text == ",":
                self.index += 1
                fields.append(self.name())
        self.expect("FROM")
        statement = Statement(count, fields, self.name())
        if self.accept("WHERE"):
            statement.where = self.condition()
        if self.accept("ORDER"):
            self.expect("BY")
            statement.order.append(self.order())
            while self.current.text == ",":
                self.index += 1
                statement.order.append(self.order())
        if self.accept("LIMIT"):
            statement.limit = self.integer()
        if self.accept("OFFSET"):
            token = self.current
            statement.offset = self.integer()
            if statement.offset > MAX_OFFSET:
                raise QueryError(
                    "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}", token.position
                )
        if self.current.kind != "eof":
            self.fail()
        return statement

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            self.fail()
        self.index += 1
        return int(token.text)

    def order(self) -> Order:
        name = self.name()
        descending = self.accept("DESC")
        if not descending:
            self.accept("ASC")
        nulls_last = descending
        if self.accept("NULLS"):
            if self.accept("LAST"):
                nulls_last = True
            else:
                self.expect("FIRST")
                nulls_last = False
        return Order(name, descending, nulls_last)

    def condition(self):
        """AND or OR chains; mixing them without parentheses is a syntax error in SOQL."""
        first = self.unary()
        if self.current.kind != "keyword" or self.current.text not in ("AND", "OR"):
            return first
        joiner, items = self.current.text, [first]
        while self.accept(joiner):
            items.append(self.unary())
        if self.current.kind == "keyword" and self.current.text in ("AND", "OR"):
            self.fail()
        return Junction(joiner, tuple(items))

    def unary(self):
        if self.accept("NOT"):
            return Junction("NOT", (self.unary(),))
        if self.current.text == "(":
            self.index += 1
            inner = self.condition()
            self.punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        name = self.name()
        if self.accept("NOT"):
            self.expect("IN")
            return Compare(name, "NOT IN", self.values())
        if self.accept("IN"):
            return Compare(name, "IN", self.values())
        if self.accept("LIKE"):
            return Compare(name, "LIKE", (self.literal(),))
        if self.current.kind != "op":
            self.fail()
        op = self.take().text
        return Compare(name, "!=" if op == "<>" else op, (self.literal(),))

    def values(self) -> tuple[Token, ...]:
        self.punct("(")
        found = [self.literal()]
        while self.current.text == ",":
            self.index += 1
            found.append(self.literal())
        self.punct(")")
        return tuple(found)

    def literal(self) -> Token:
        token = self.current
        if token.kind in ("string", "number", "datetime", "date") or (
            token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL")
        ):
            self.index += 1
            return token
        self.fail()
        raise AssertionError  # unreachable: fail() raises


def parse(text: str) -> Statement:
    return _Parser(text).statement()


# -- meaning ------------------------------------------------------------------------------------------------------


@dataclass
class Query:
    """A statement bound to an object: canonical field names, a record predicate, sort keys, paging."""

    sobject: SObjectType
    count: bool
    fields: list[str]
    matches: Callable[[dict], bool]
    order: list[tuple[Field, bool, bool]]
    limit: int | None
    offset: int | None

    def run(self, rows) -> list[dict]:
        found = [row for row in rows if self.matches(row)]
        for fld, descending, nulls_last in reversed(self.order):
            rank = 2 if nulls_last != descending else 0
            found.sort(key=lambda row: _sort_key(fld, row.get(fld.name), rank), reverse=descending)  # sorts now
        start = self.offset or 0
        end = None if self.limit is None else start + self.limit
        return found[start:end]


def compile_query(text: str, objects: Callable[[str], SObjectType | None]) -> Query:
    statement = parse(text)
    sobject = objects(statement.source.text)
    if sobject is None or "." in statement.source.text:
        raise QueryError(
            "INVALID_TYPE",
            f"sObject type '{statement.source.text}' is not supported. If you are attempting to use a custom object, "
            "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for "
            "the appropriate names.",
            statement.source.position,
        )
    fields = []
    for name in statement.fields:
        canonical = _field(sobject, name).name
        if canonical not in fields:
            fields.append(canonical)
    matches = _predicate(sobject, statement.where) if statement.where is not None else (lambda row: True)
    order = [(_field(sobject, o.name), o.descending, o.nulls_last) for o in statement.order]
    return Query(sobject, statement.count, fields, matches, order, statement.limit, statement.offset)


def _field(sobject: SObjectType, name: Name) -> Field:
    if "." in name.text:
        relationship = name.text.split(".")[0]
        raise QueryError(
            "INVALID_FIELD",
            f"Didn't understand relationship '{relationship}' in field path. If you are attempting to use a custom "
            "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
            "WSDL or the describe call for the appropriate names.",
            name.position,
        )
    found = sobject.field(name.text)
    if found is None:
        raise QueryError(
            "INVALID_FIELD",
            f"No such column '{name.text}' on entity '{sobject.name}'. If you are attempting to use a custom field, "
            "be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call "
            "for the appropriate names.",
            name.position,
        )
    return found


def _predicate(sobject: SObjectType, node) -> Callable[[dict], bool]:
    if isinstance(node, Junction):
        parts = [_predicate(sobject, item) for item in node.items]
        if node.op == "NOT":
            return lambda row: not parts[0](row)
        if node.op == "AND":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    fld = _field(sobject, node.name)
    if node.op == "LIKE":
        if fld.type not in TEXT_TYPES:
            raise QueryError(
                "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {fld.type} field: {fld.name}", node.name.position
            )
        pattern = _like(_bind(fld, node.literals[0]))
        return lambda row: row.get(fld.name) is not None and pattern.fullmatch(str(row[fld.name])) is not None
    values = [_bind(fld, literal) for literal in node.literals]
    if node.op in ("IN", "NOT IN"):
        wanted = set(values)
        if node.op == "IN":
            return lambda row: _domain(fld, row.get(fld.name)) in wanted
        return lambda row: _domain(fld, row.get(fld.name)) not in wanted
    value = values[0]
    if fld.type == "boolean" and node.op not in ("=", "!="):
        raise QueryError(
            "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on boolean field: {fld.name}", node.name.position
        )
    if node.op == "=":
        return lambda row: _domain(fld, row.get(fld.name)) == value
    if node.op == "!=":
        return lambda row: _domain(fld, row.get(fld.name)) != value
    compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[
        node.op
    ]

    def ordered(row: dict) -> bool:
        actual = _domain(fld, row.get(fld.name))
        return actual is not None and value is not None and compare(actual, value)

    return ordered


def _bind(fld: Field, token: Token) -> object:
    """A literal as a value of `fld`'s type, refused as Salesforce refuses it (quoted booleans and datetimes,
    unquoted text, malformed ids)."""
    if token.kind == "keyword" and token.text == "NULL":
        return None

    def refuse(kind: str, quoted: bool) -> QueryError:
        how = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return QueryError(
            "INVALID_QUERY_FILTER_OPERATOR",
            f"value of filter criterion for field '{fld.name}' must be of type {kind} and {how}",
            token.position,
        )

    if fld.type in TEXT_TYPES:
        if token.kind != "string":
            raise refuse("string", True)
        return str(token.value).lower()
    if fld.type in ("id", "reference"):
        if token.kind != "string":
            raise refuse("id", True)
        normal = record_ids.normalize(token.value)
        if normal is None:
            raise QueryError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {token.value}", token.position)
        return normal
    if fld.type == "boolean":
        if token.kind != "keyword":
            raise refuse("boolean", False)
        return token.text == "TRUE"
    if fld.type == "datetime":
        if token.kind != "datetime":
            raise refuse("dateTime", False)
        return parse_datetime(token.text)
    if fld.type == "date":
        if token.kind != "date":
            raise refuse("date", False)
        return date.fromisoformat(token.text)
    raise refuse(fld.type, False)


def _like(text: object) -> re.Pattern:
    out, index, pattern = [], 0, str(text)
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "%_":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=65536)
def _moment(text: str) -> datetime | None:
    return parse_datetime(text)


def _domain(fld: Field, raw: object) -> object:
    """A stored value as the predicate compares it: text lower-cased, datetimes and dates parsed."""
    if raw is None:
        return None
    if fld.type in TEXT_TYPES:
        return str(raw).lower()
    if fld.type == "datetime":
        return _moment(str(raw))
    if fld.type == "date":
        return date.fromisoformat(str(raw))
    return raw


def _sort_key(fld: Field, raw: object, null_rank: int) -> tuple:
    value = _domain(fld, raw)
    return (null_rank, "") if value is None else (1, value)
