"""`consentry check`: stream a contacts CSV through the engine, one decision per row.

Columns (header names; all optional but `audience` and `jurisdiction`):
- `contact_id`: your identifier, echoed in the output (emails and phone numbers never are);
- `email`, `phone`: checked for shape (the phone number for the channels that use it); a phone number also gives
  the callee's time zone when none is given;
- `audience` (b2c, b2b_nominative, b2b_generic), `jurisdiction` (FR, DE, IT, ES, BE, NL, UK, US);
- `time_zone` (IANA name, e.g. Europe/Paris), `subdivision` (e.g. 57 for Moselle's own holidays);
- any fact key (docs/rules/facts.md gives each one's type and meaning), e.g. `consent_state`, `consent_date`,
  `existing_customer`, `calls_in_last_30_days`; lists are written with ';' between items.

Each output record gives the decision, its conditions, its reason codes and, in the same order, their titles
(docs/rules/reason-codes.md). A row with bad data gets an error in the output and does not stop the others.
"""

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from hashlib import blake2b
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, TypeVar

from .catalogue import reason_title
from .errors import InvalidInputError
from .facts import FACT_TYPES, Facts
from .models import Contact, Request
from .rules import evaluate
from .scenarios import sender_of
from .telephone import zone_of_phone
from .vocabulary import Action, Audience, Channel

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# A row's decision as output cells, and the error that kept it from being decided.
Answer = tuple[tuple[str, ...], str | None]
_T = TypeVar("_T")

IDENTITY_COLUMNS = ("contact_id", "email", "phone", "audience", "jurisdiction", "time_zone", "subdivision")
KNOWN_COLUMNS = frozenset(IDENTITY_COLUMNS) | frozenset(FACT_TYPES)
OUTPUT_FIELDS = (
    "row",
    "contact_id",
    "decision",
    "conditions",
    "reason_codes",
    "reason_titles",
    "legal_basis",
    "valid_until",
    "error",
)
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_SHAPE = re.compile(r"^\+?[0-9][0-9 ().-]{4,24}$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,60}$")


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    contact_id: str
    request: Request | None
    error: str | None = None


def read_requests(stream: IO[str], *, channel: Channel, at: datetime, action: Action = Action.SEND) -> Iterator[Row]:
    """Parse the CSV into requests, row by row, in constant memory."""
    header, rows = _open_csv(stream)
    for line, cells, error in rows:
        values = dict(zip(header, cells, strict=False))
        contact_id = values.get("contact_id", "")
        if error:
            yield Row(line, contact_id, None, error)
            continue
        try:
            yield Row(line, contact_id, _request(values, channel, at, action))
        except InvalidInputError as problem:
            yield Row(line, contact_id, None, str(problem))


def _open_csv(stream: IO[str]) -> tuple[list[str], Iterator[tuple[int, list[str], str | None]]]:
    """The checked header, and (line number, cells, shape error) for every non-blank row."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise InvalidInputError("the CSV file is empty")
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in KNOWN_COLUMNS]
    if unknown:
        if not all(_COLUMN_NAME.match(name) for name in unknown):  # data, not names: never echo it
            raise InvalidInputError("the first line is not a header of column names")
        raise InvalidInputError(f"unknown columns: {', '.join(unknown)}")
    if "audience" not in header or "jurisdiction" not in header:
        raise InvalidInputError("the CSV needs the columns audience and jurisdiction")
    if len(set(header)) != len(header):
        raise InvalidInputError("a column name appears twice in the header")
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str], str | None]]:
        for line, cells in enumerate(reader, start=2):
            if cells:
                yield line, cells, None if len(cells) == width else f"expected {width} cells, found {len(cells)}"

    return header, rows()


def _request(values: dict[str, str], channel: Channel, at: datetime, action: Action) -> Request:
    audience_text = values.get("audience", "").strip()
    if not audience_text:
        raise InvalidInputError("missing audience", field="audience")
    try:
        audience = Audience(audience_text.lower())
    except ValueError:
        raise InvalidInputError("audience must be b2c, b2b_nominative or b2b_generic", field="audience") from None
    jurisdiction = values.get("jurisdiction", "").strip().upper() or None
    email = values.get("email", "").strip()
    if email and not _EMAIL_SHAPE.match(email):
        raise InvalidInputError("invalid email address", field="email")
    # An empty cell is a fact left out, as in a scenario: no consent date where there is no consent. The facts the
    # law needs known (a do-not-call registration, each soft opt-in condition) count against the contact when
    # left out; a JSON `null` (the Python API, scenarios) marks any other fact as unknown.
    facts = Facts({key: value for key, value in values.items() if key in FACT_TYPES and value.strip()})
    zone = values.get("time_zone", "").strip() or facts.callee_timezone
    phone = values.get("phone", "").strip()
    if phone and channel.uses_phone_number and not _PHONE_SHAPE.match(phone):
        raise InvalidInputError("invalid phone number", field="phone")
    if not zone and phone and channel.uses_phone_number:
        zone = zone_of_phone(phone, jurisdiction)
    if not zone and channel.uses_phone_number and action is Action.SEND:
        raise InvalidInputError("unknown time zone: give time_zone or a phone number", field="time_zone")
    contact = Contact(
        audience=audience,
        jurisdiction=jurisdiction,
        time_zone=zone,
        facts=facts,
        subdivision=values.get("subdivision", "").strip() or None,
        contact_id=values.get("contact_id") or None,
    )
    return Request(contact=contact, channel=channel, at=at, action=action, sender=sender_of(facts))


_NO_DECISION = ("", "", "", "", "", "")


def _decision_cells(request: Request) -> tuple[str, str, str, str, str, str]:
    decision = evaluate(request)
    return (
        decision.verdict.value,
        ";".join(decision.conditions),
        ";".join(decision.reason_codes),
        ";".join(reason_title(code) for code in decision.reason_codes),
        decision.legal_basis.value if decision.legal_basis else "",
        decision.valid_until.isoformat() if decision.valid_until else "",
    )


class DecisionWriter:
    """Writes one output record per row, as CSV or JSON lines."""

    def __init__(self, stream: IO[str], *, fmt: str = "csv"):
        self._stream = stream
        self._csv = None if fmt == "jsonl" else csv.writer(stream, lineterminator="\n")
        if self._csv:
            self._csv.writerow(OUTPUT_FIELDS)

    def write(self, row: Row) -> bool:
        """Write the row's decision or error; returns False for an error."""
        cells = _NO_DECISION if row.request is None else _decision_cells(row.request)
        return self.write_cells(row.line, row.contact_id, cells, row.error)

    def write_cells(self, line: int, contact_id: str, cells: tuple[str, ...], error: str | None) -> bool:
        if self._csv is None:  # JSON lines
            record: dict[str, Any] = dict(zip(OUTPUT_FIELDS, (line, contact_id, *cells, error), strict=True))
            record["conditions"] = cells[1].split(";") if cells[1] else []
            record["reason_codes"] = cells[2].split(";") if cells[2] else []
            record["reason_titles"] = cells[3].split(";") if cells[2] else []
            self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        else:
            self._csv.writerow((line, contact_id, *cells, error or ""))
        return error is None


def check_stream(
    source: IO[str],
    out: IO[str],
    *,
    channel: Channel,
    at: datetime,
    fmt: str = "csv",
    progress: Any = None,
    jobs: int = 1,
) -> tuple[int, int]:
    """Decide every row of `source` into `out`; returns (rows, rows with errors).

    Rows that differ only by identifiers (id, email, a phone number not needed for the time zone) share one
    decision, so a file full of similar contacts is parsed and judged once per distinct situation. With
    `jobs` > 1, new situations are judged by that many worker processes, a block of rows at a time, and the
    output keeps the input's order.
    """
    writer = DecisionWriter(out, fmt=fmt)
    header, rows = _open_csv(source)
    column = {name: index for index, name in enumerate(header)}
    situation = _situation_of(header, channel)
    check_phone = channel.uses_phone_number and "phone" in column
    known: dict[bytes, Answer] = {}
    count = errors = 0
    with _Judges(jobs, channel, at) as judge:
        for block in _blocks(rows, _BLOCK):
            prepared: list[tuple[int, str, bytes | None, str | None]] = []
            new: dict[bytes, dict[str, str]] = {}
            for line, cells, error in block:
                where = column.get("contact_id")
                contact_id = cells[where] if where is not None and where < len(cells) else ""
                if not error and "email" in column:
                    email = cells[column["email"]].strip()
                    if email and not _EMAIL_SHAPE.match(email):
                        error = "invalid email address"
                if not error and check_phone:
                    phone = cells[column["phone"]].strip()
                    if phone and not _PHONE_SHAPE.match(phone):
                        error = "invalid phone number"
                key = None
                if not error:
                    key = _digest(situation(cells))
                    if key not in known and key not in new:
                        new[key] = dict(zip(header, cells, strict=True))
                prepared.append((line, contact_id, key, error))
            answers = {key: known[key] for _, _, key, _ in prepared if key is not None and key in known}
            judged = dict(zip(new, judge(list(new.values())), strict=True))
            answers.update(judged)
            if len(known) + len(judged) > _KNOWN_SITUATIONS:
                known.clear()
            known.update(judged)
            for line, contact_id, key, error in prepared:
                decision, problem = (_NO_DECISION, error) if key is None else answers[key]
                errors += not writer.write_cells(line, contact_id, decision, problem)
            count += len(prepared)
            if progress is not None:
                progress.update(len(prepared))
    return count, errors


def _digest(situation: tuple[Any, ...]) -> bytes:
    """A 128-bit digest stands for the situation in the cache: a tenth of the memory, no practical collisions."""
    return blake2b(repr(situation).encode(), digest_size=16).digest()  # repr: unambiguous whatever the cells


def _blocks(rows: Iterable[_T], size: int) -> Iterator[list[_T]]:
    block: list[_T] = []
    for row in rows:
        block.append(row)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def _judge_all(values_list: list[dict[str, str]], channel: Channel, at: datetime) -> list[Answer]:
    return [_parse(values, channel, at) for values in values_list]


class _Judges:
    """Judges new situations in this process, or in a pool of worker processes when jobs > 1."""

    def __init__(self, jobs: int, channel: Channel, at: datetime):
        self.jobs, self.channel, self.at = max(1, jobs), channel, at
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "_Judges":
        if self.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=self.jobs)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def __call__(self, values_list: list[dict[str, str]]) -> list[Answer]:
        if self.pool is None or len(values_list) < 2 * self.jobs:
            return _judge_all(values_list, self.channel, self.at)
        share = -(-len(values_list) // self.jobs)
        parts = [values_list[start : start + share] for start in range(0, len(values_list), share)]
        futures = [self.pool.submit(_judge_all, part, self.channel, self.at) for part in parts]
        return [answer for future in futures for answer in future.result()]


def _situation_of(header: list[str], channel: Channel) -> Callable[[list[str]], tuple[Any, ...]]:
    """A function giving what in a row can change its decision: every cell but the identifiers.

    The phone number counts when the time zone must be derived from it.
    """
    ignored = {"contact_id", "email", "phone"}
    if channel.uses_phone_number and "time_zone" not in header:
        ignored.discard("phone")
    kept = [index for index, name in enumerate(header) if name not in ignored]
    if "time_zone" in header and "phone" in header and channel.uses_phone_number:
        zone, phone = header.index("time_zone"), header.index("phone")
        pick = itemgetter(*kept)
        return lambda cells: (pick(cells), cells[phone] if not cells[zone].strip() else "")
    if len(kept) == 1:
        return lambda cells: (cells[kept[0]],)
    return itemgetter(*kept)


def _parse(values: dict[str, str], channel: Channel, at: datetime) -> tuple[tuple[str, ...], str | None]:
    try:
        return _decision_cells(_request(values, channel, at, Action.SEND)), None
    except InvalidInputError as problem:
        return _NO_DECISION, str(problem)


_KNOWN_SITUATIONS = 65536
_BLOCK = 8192
