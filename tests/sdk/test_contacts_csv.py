"""`sdk.contacts_csv`: a contacts CSV streamed through the engine, one decision (or one error) per row."""

import csv
import io
import json
from datetime import datetime

import pytest

from consentry.sdk import Channel, InvalidInputError, evaluate
from consentry.sdk.catalogue import reason
from consentry.sdk.contacts_csv import OUTPUT_FIELDS, check_stream, read_requests
from consentry.sdk.telephone import zone_of_phone

AT = datetime.fromisoformat("2026-09-15T11:00:00+02:00")
HEADER = ("contact_id", "email", "phone", "audience", "jurisdiction", "time_zone", "consent_state", "consent_date")
EMAILS = ("jean.dupont@example.fr", "marie.curie@example.org", "not-an-email@nowhere", "paul@example.fr")
PHONES = ("+33612345678", "+33612345679", "+262262123456", "+596696123456")


def contacts_csv(*rows: tuple, header: tuple = HEADER) -> io.StringIO:
    lines = [",".join(header), *(",".join(str(cell) for cell in row) for row in rows)]
    return io.StringIO("\n".join(lines) + "\n")


def good_row(contact_id: str, *, email="jean.dupont@example.fr", phone="+33612345678", **changes) -> tuple:
    values = {
        "contact_id": contact_id,
        "email": email,
        "phone": phone,
        "audience": "b2c",
        "jurisdiction": "FR",
        "time_zone": "Europe/Paris",
        "consent_state": "opt_in",
        "consent_date": "2026-09-01",
        **changes,
    }
    return tuple(values[name] for name in HEADER)


def check(source: io.StringIO, *, channel=Channel.PHONE_HUMAN, fmt="jsonl", at=AT) -> tuple[str, int, int]:
    out = io.StringIO()
    rows, errors = check_stream(source, out, channel=channel, at=at, fmt=fmt)
    return out.getvalue(), rows, errors


def jsonl_records(text: str) -> dict[str, dict]:
    return {record["contact_id"]: record for record in map(json.loads, text.splitlines())}


BAD_ROWS = {
    "invalid email": (good_row("bad", email="jean.dupont-at-example.fr"), "invalid email address"),
    "unknown time zone": (good_row("bad", time_zone="Mars/Olympus"), "unknown time zone"),
    "missing audience": (good_row("bad", audience=""), "missing audience"),
    "unknown audience": (good_row("bad", audience="vip"), "audience must be"),
    "bad phone, no zone": (good_row("bad", phone="12", time_zone=""), "invalid phone number"),
    "no phone, no zone": (good_row("bad", phone="", time_zone=""), "unknown time zone"),
    "bad fact value": (good_row("bad", consent_date="someday"), "consent_date"),
    "too few cells": (("bad", "paul@example.fr", "+33612345670", "b2c", "FR"), "expected 8 cells, found 5"),
    "too many cells": ((*good_row("bad"), "extra"), "expected 8 cells, found 9"),
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
def test_a_bad_row_gets_its_own_error_and_the_others_are_still_decided(kind, fmt):
    bad, message = BAD_ROWS[kind]
    text, rows, errors = check(contacts_csv(good_row("first"), bad, good_row("last", phone="+33612345679")), fmt=fmt)
    assert (rows, errors) == (3, 1)
    if fmt == "jsonl":
        records = jsonl_records(text)
    else:
        records = {record["contact_id"]: record for record in csv.DictReader(io.StringIO(text))}
    assert message in records["bad"]["error"]
    assert records["bad"]["decision"] == ""
    for good in ("first", "last"):
        assert records[good]["decision"] == "allowed_with_conditions"
        assert records[good]["error"] in (None, "")


@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
def test_read_requests_reports_the_same_bad_rows(kind):
    bad, message = BAD_ROWS[kind]
    rows = list(read_requests(contacts_csv(good_row("first"), bad), channel=Channel.PHONE_HUMAN, at=AT))
    assert [row.line for row in rows] == [2, 3]
    assert rows[0].error is None
    assert rows[0].request is not None
    assert rows[1].request is None
    assert message in rows[1].error


def test_a_bad_phone_number_does_not_matter_for_email():
    text, _rows, errors = check(contacts_csv(good_row("c1", phone="12", time_zone="")), channel=Channel.EMAIL)
    assert errors == 0
    assert jsonl_records(text)["c1"]["decision"] == "allowed_with_conditions"


def test_a_malformed_phone_number_is_an_error_for_a_phone_channel_even_with_a_time_zone():
    text, _rows, errors = check(contacts_csv(good_row("c1", phone="not-a-number")))
    assert errors == 1
    assert jsonl_records(text)["c1"]["error"] == "invalid phone number"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the CSV file is empty"),
        ("contact_id,audience,jurisdiction,shoe_size\nc1,b2c,FR,42\n", "unknown columns: shoe_size"),
        ("contact_id,audience\nc1,b2c\n", "needs the columns audience and jurisdiction"),
        ("audience,jurisdiction,audience\nb2c,FR,b2c\n", "appears twice"),
    ],
    ids=["empty", "unknown-column", "missing-columns", "duplicate-column"],
)
def test_a_file_that_cannot_be_read_raises(text, message):
    with pytest.raises(InvalidInputError, match=message):
        list(read_requests(io.StringIO(text), channel=Channel.EMAIL, at=AT))
    with pytest.raises(InvalidInputError, match=message):
        check_stream(io.StringIO(text), io.StringIO(), channel=Channel.EMAIL, at=AT)


def test_a_file_without_a_header_row_is_refused_without_quoting_the_first_contact():
    with pytest.raises(InvalidInputError) as caught:
        check_stream(contacts_csv(good_row("c2"), header=good_row("c1")), io.StringIO(), channel=Channel.EMAIL, at=AT)
    assert "jean.dupont@example.fr" not in str(caught.value)
    assert "+33612345678" not in str(caught.value)


def test_a_short_row_is_an_error_whatever_the_column_order():
    header = ("audience", "jurisdiction", "consent_state", "contact_id")
    source = contacts_csv(("b2c", "FR", "opt_in", "c1"), ("b2c", "FR"), header=header)
    text, rows, errors = check(source, channel=Channel.EMAIL)
    assert (rows, errors) == (2, 1)
    assert "expected 4 cells" in text


def test_an_unknown_subdivision_does_not_stop_the_other_rows():
    header = ("contact_id", "audience", "jurisdiction", "time_zone", "subdivision", "consent_state", "consent_date")
    source = contacts_csv(
        ("c1", "b2c", "FR", "Europe/Paris", "75", "opt_in", "2026-09-01"),
        ("c2", "b2c", "FR", "Europe/Paris", "", "opt_in", "2026-09-01"),
        header=header,
    )
    text, rows, _errors = check(source)
    assert rows == 2
    assert jsonl_records(text)["c2"]["decision"] == "allowed_with_conditions"


# -- what comes out -------------------------------------------------------------------------------------------------


def mixed_file() -> io.StringIO:
    return contacts_csv(
        good_row("c1", email=EMAILS[0], phone=PHONES[0]),
        good_row("c2", email=EMAILS[1], phone=PHONES[1], consent_state="none"),
        good_row("c3", email=EMAILS[2], phone=PHONES[2]),  # invalid email
        good_row("c4", email=EMAILS[3], phone=PHONES[3], time_zone=""),  # zone from the Martinique number
        good_row("c5", email="", phone="", audience="b2b_generic"),
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.PHONE_HUMAN, Channel.SMS])
def test_the_output_never_contains_an_email_or_a_phone_number(channel, fmt):
    text, rows, _errors = check(mixed_file(), channel=channel, fmt=fmt)
    assert rows == 5
    assert "@" not in text
    for phone in PHONES:
        assert phone not in text
        assert phone.lstrip("+") not in text


def test_jsonl_records_are_json_with_lists_for_conditions_and_reason_codes():
    text, _rows, errors = check(mixed_file())
    lines = text.splitlines()
    assert len(lines) == 5
    records = [json.loads(line) for line in lines]
    assert errors == 1
    for line_number, record in enumerate(records, start=2):
        assert set(record) == set(OUTPUT_FIELDS)
        assert record["row"] == line_number
        assert isinstance(record["conditions"], list)
        assert isinstance(record["reason_codes"], list)
    by_id = {record["contact_id"]: record for record in records}
    assert by_id["c1"]["error"] is None
    assert "FR_PHONE_B2C_OPTIN_2026" in by_id["c1"]["reason_codes"]
    assert "must_keep_consent_proof" in by_id["c1"]["conditions"]
    assert by_id["c2"]["decision"] == "forbidden"
    assert by_id["c3"] == {**by_id["c3"], "decision": "", "conditions": [], "reason_codes": [], "reason_titles": []}
    assert by_id["c3"]["error"] == "invalid email address"
    for record in records:
        assert record["reason_titles"] == [reason(code).title for code in record["reason_codes"]]


def test_csv_output_has_the_documented_header_and_semicolon_lists():
    text, _rows, _errors = check(mixed_file(), fmt="csv")
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == OUTPUT_FIELDS
    first = dict(zip(OUTPUT_FIELDS, next(reader), strict=True))
    assert first["contact_id"] == "c1"
    assert "FR_PHONE_B2C_OPTIN_2026" in first["reason_codes"].split(";")
    titles = dict(zip(first["reason_codes"].split(";"), first["reason_titles"].split(";"), strict=True))
    assert titles["FR_PHONE_B2C_OPTIN_2026"] == reason("FR_PHONE_B2C_OPTIN_2026").title


def test_check_stream_gives_the_engines_own_decisions_row_by_row():
    text, _rows, _errors = check(mixed_file())
    records = jsonl_records(text)
    for row in read_requests(mixed_file(), channel=Channel.PHONE_HUMAN, at=AT):
        if row.request is None:
            continue
        decision = evaluate(row.request)
        record = records[row.contact_id]
        assert record["decision"] == decision.verdict.value
        assert record["reason_codes"] == list(decision.reason_codes)
        assert record["conditions"] == list(decision.conditions)


def test_rows_with_the_same_situation_keep_their_own_ids_and_line_numbers():
    rows = [good_row(f"c{n}", email=f"p{n}@example.fr", phone=f"+3361234567{n}") for n in range(5)]
    text, count, _errors = check(contacts_csv(*rows))
    records = [json.loads(line) for line in text.splitlines()]
    assert count == 5
    assert [(r["row"], r["contact_id"]) for r in records] == [(n + 2, f"c{n}") for n in range(5)]
    assert len({r["decision"] for r in records}) == 1


def test_blank_lines_are_skipped():
    source = io.StringIO(",".join(HEADER) + "\n\n" + ",".join(good_row("c1")) + "\n\n")
    text, rows, errors = check(source)
    assert (rows, errors) == (1, 0)
    assert json.loads(text)["row"] == 3


# -- time zones from phone numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        ("+262262123456", "Indian/Reunion"),
        ("+596696123456", "America/Martinique"),
        ("+33612345678", "Europe/Paris"),
        ("06 12 34 56 78", "Europe/Paris"),  # national format, read in the contact's jurisdiction
    ],
)
def test_the_time_zone_comes_from_the_phone_number(phone, zone):
    assert zone_of_phone(phone, "FR") == zone
    source = contacts_csv(good_row("c1", phone=phone, time_zone=""))
    [row] = read_requests(source, channel=Channel.PHONE_HUMAN, at=AT)
    assert row.error is None
    assert row.request.contact.time_zone == zone


def test_a_reunion_number_is_judged_in_reunion_time():
    # 16:30 UTC is 18:30 in Paris (open) but 20:30 in La Réunion (closed).
    at = datetime.fromisoformat("2026-09-15T16:30:00+00:00")
    source = contacts_csv(good_row("paris", time_zone=""), good_row("reunion", phone="+262262123456", time_zone=""))
    records = jsonl_records(check(source, at=at)[0])
    assert records["paris"]["decision"] == "allowed_with_conditions"
    assert records["reunion"]["decision"] == "forbidden"
    assert "FR_PHONE_HOURS_CONSUMER_TZ" in records["reunion"]["reason_codes"]


def test_a_given_time_zone_wins_over_the_phone_number():
    [row] = read_requests(
        contacts_csv(good_row("c1", phone="+262262123456", time_zone="Europe/Paris")),
        channel=Channel.PHONE_HUMAN,
        at=AT,
    )
    assert row.request.contact.time_zone == "Europe/Paris"


def test_a_number_spanning_several_zones_gives_no_zone():
    # +262 692 mobiles are listed for both La Réunion and Mayotte, an hour apart: the engine will not guess.
    with pytest.raises(InvalidInputError, match="spans several"):
        zone_of_phone("+262692123456", "FR")


def test_the_subdivision_column_reaches_the_contact():
    header = (
        "contact_id",
        "audience",
        "jurisdiction",
        "time_zone",
        "subdivision",
        "consent_state",
        "bloctel_registered",
    )
    at = datetime.fromisoformat("2025-12-26T11:00:00+01:00")  # Saint Stephen's Day, a Friday, Bloctel era
    source = contacts_csv(
        ("moselle", "b2c", "FR", "Europe/Paris", "57", "none", "false"),
        ("paris", "b2c", "FR", "Europe/Paris", "", "none", "false"),
        header=header,
    )
    records = jsonl_records(check(source, at=at)[0])
    assert records["moselle"]["decision"] == "forbidden"
    assert "FR_PHONE_LOCAL_HOLIDAY_UNCLEAR" in records["moselle"]["reason_codes"]
    assert records["paris"]["decision"] == "allowed_with_conditions"
