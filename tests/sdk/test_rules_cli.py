"""`consentry rules test`, `check`, `explain` and `demo` as a user runs them."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consentry.sdk.cli import main

DATA = Path(__file__).parents[1] / "data"


def consentry(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "consentry.sdk.cli", *arguments], capture_output=True, text=True, timeout=120
    )


def test_every_shared_scenario_passes_through_the_command():
    result = consentry("rules", "test", str(DATA / "scenarios.yaml"))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "69 passed, 0 failed" in result.stdout


def test_json_output_has_one_object_per_scenario(capsys):
    assert main(["rules", "test", str(DATA / "unseen_scenarios.yaml"), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) > 50
    for record in records:
        assert {"id", "decision", "conditions", "reason_codes", "passed"} <= set(record)
        assert record["passed"] is True


def test_a_failing_scenario_exits_1_and_says_why(tmp_path, capsys):
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "- id: wrong-1\n  jurisdiction: FR\n  channel: email\n  audience: b2c\n"
        "  evaluated_at: '2026-09-15T10:00:00+02:00'\n  facts: {consent_state: none}\n"
        "  expected: {decision: allowed}\n"
    )
    assert main(["rules", "test", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  wrong-1: expected allowed, got forbidden" in out


def test_malformed_yaml_exits_2_with_a_clear_message(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("- id: [unclosed\n")
    assert main(["rules", "test", str(broken)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


CSV = (
    "contact_id,email,phone,audience,jurisdiction,time_zone,consent_state\n"
    "c1,jane@example.com,,b2c,FR,Europe/Paris,opt_in\n"
    "c2,not-an-email,,b2c,FR,Europe/Paris,opt_in\n"
    "c3,john@example.com,,,FR,Europe/Paris,opt_in\n"
    "c4,ann@example.com,,b2c,FR,Mars/Olympus,opt_in\n"
    "c5,bob@example.com,,b2c,FR\n"
    "c6,eve@example.com,,b2b_generic,FR,Europe/Paris,none\n"
)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_check_reports_bad_rows_and_decides_the_others(tmp_path, fmt):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CSV)
    output = tmp_path / f"out.{fmt}"
    result = consentry(
        "check",
        str(contacts),
        "--channel",
        "phone_human",
        "--at",
        "2026-09-15T11:00:00+02:00",
        "--format",
        fmt,
        "--output",
        str(output),
    )
    assert result.returncode == 1
    assert "6 rows checked, 4 with errors" in result.stderr
    text = output.read_text()
    assert "@" not in text
    if fmt == "jsonl":
        rows = {row["contact_id"] or row["row"]: row for row in map(json.loads, text.splitlines())}
        assert rows["c1"]["decision"]
        assert rows["c1"]["error"] is None
        assert isinstance(rows["c1"]["reason_codes"], list)
        assert rows["c2"]["error"] == "invalid email address"
        assert rows["c3"]["error"] == "missing audience"
        assert rows["c4"]["error"] == "unknown time zone"
        assert rows["c5"]["error"].startswith("expected 7 cells")
        assert rows["c6"]["decision"] == "allowed_with_conditions"


def test_check_time_zone_comes_from_a_reunion_number(tmp_path, capsys):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "contact_id,phone,audience,jurisdiction,consent_state,consent_date\nr1,+262262123456,b2c,FR,opt_in,2026-09-01\n"
    )
    # 08:30 UTC is 10:30 in Paris but 12:30 in La Réunion: both open; 16:30 UTC is 20:30 there: closed.
    assert (
        main(
            [
                "check",
                str(contacts),
                "--channel",
                "phone_human",
                "--at",
                "2026-09-15T16:30:00+00:00",
                "--format",
                "jsonl",
                "--no-progress",
            ]
        )
        == 0
    )
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["decision"] == "forbidden"
    assert "FR_PHONE_HOURS" in row["reason_codes"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("contact_id,shoe_size\n1,42\n", "unknown columns: shoe_size"),
        ("contact_id,email\n1,a@b.example.com\n", "needs the columns audience and jurisdiction"),
    ],
)
def test_check_refuses_a_file_it_cannot_read(tmp_path, capsys, content, message):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(content)
    assert main(["check", str(contacts), "--channel", "email", "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_check_on_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nowhere.csv"), "--channel", "email"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_explain_prints_reasons_confidence_and_sources(capsys):
    main(
        [
            "explain",
            "--jurisdiction",
            "FR",
            "--channel",
            "phone_human",
            "--audience",
            "b2c",
            "--at",
            "2026-08-11T11:00:00+02:00",
            "--fact",
            "callee_timezone=Europe/Paris",
            "--fact",
            "consent_state=none",
        ]
    )
    out = capsys.readouterr().out
    assert out.startswith("Decision: forbidden")
    assert "[FR_PHONE_B2C_OPTIN_2026 (Consumer calls need prior consent); confidence: confirmed]" in out
    assert "https://" in out


def test_the_engine_demo_prints_a_table_per_channel(capsys):
    from consentry.sdk.cli import SAMPLE_CONTACTS
    from consentry.sdk.demo import run_engine_demo

    assert run_engine_demo(SAMPLE_CONTACTS, at=datetime(2026, 9, 15, 10, 30, tzinfo=UTC)) == 0
    out = capsys.readouterr().out
    for channel in ("email", "sms", "phone_human", "automated_call", "postal"):
        assert f"\n{channel} " in out


def test_parallel_check_writes_the_same_output_in_the_same_order(tmp_path):
    import csv

    from consentry.sdk.synthetic import COLUMNS, contact_rows

    contacts = tmp_path / "contacts.csv"
    with contacts.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(contact_rows(3000))
    outputs = []
    for jobs in ("1", "2"):
        output = tmp_path / f"out{jobs}.csv"
        assert (
            main(
                [
                    "check",
                    str(contacts),
                    "--channel",
                    "sms",
                    "--at",
                    "2026-09-15T11:00:00+02:00",
                    "--jobs",
                    jobs,
                    "--output",
                    str(output),
                    "--no-progress",
                ]
            )
            == 0
        )
        outputs.append(output.read_text())
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 3001
