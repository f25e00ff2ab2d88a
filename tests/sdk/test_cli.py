"""The `consentry` command line: `rules test`, `check`, `explain` and `demo`, with their exit statuses.

0: everything passed or was decided; 1: a scenario failed or a row had an error; 2: the input could not be used.
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import consentry.sdk.cli as sdk_cli
from consentry.sdk import Channel, Verdict, load_scenarios
from consentry.sdk.catalogue import reason
from consentry.sdk.cli import main
from consentry.sdk.demo import DEMO_CHANNELS

DATA = Path(__file__).parents[1] / "data"
SCENARIOS = DATA / "scenarios.yaml"
UNSEEN = DATA / "unseen_scenarios.yaml"
SAMPLE = Path(__file__).parents[2] / "sdk" / "samples" / "contacts.csv"
JSON_KEYS = {"id", "decision", "conditions", "reason_codes", "passed"}


def consentry_command() -> list[str]:
    script = shutil.which("consentry", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "consentry.sdk.cli"]


def run_consentry(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*consentry_command(), *arguments], capture_output=True, text=True, timeout=300, check=False)


def scenario_file(tmp_path: Path, *, expected: str, reason_codes: str = "[]", name: str = "case.yaml") -> Path:
    """One email scenario for a consumer who never consented (the engine forbids it)."""
    path = tmp_path / name
    path.write_text(
        "- id: my-case\n"
        "  title: Email to a consumer without consent\n"
        "  jurisdiction: FR\n"
        "  channel: email\n"
        "  audience: b2c\n"
        "  evaluated_at: '2026-09-15T10:00:00+02:00'\n"
        "  facts: {consent_state: none}\n"
        f"  expected: {{decision: {expected}, reason_codes: {reason_codes}}}\n",
        encoding="utf-8",
    )
    return path


# -- rules test -----------------------------------------------------------------------------------------------------


def test_every_shared_scenario_passes(capsys):
    count = len(load_scenarios(SCENARIOS))
    assert main(["rules", "test", str(SCENARIOS)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"{count} passed, 0 failed, {count} scenarios"
    results = [line for line in lines[:-1] if line]
    assert len(results) == count
    assert all(line.startswith("ok    ") for line in results)


def test_the_installed_console_script_runs_the_shared_scenarios():
    result = run_consentry("rules", "test", str(SCENARIOS))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert ", 0 failed," in result.stdout
    assert "FAIL" not in result.stdout


def test_json_output_has_one_object_per_scenario_and_line(capsys):
    count = len(load_scenarios(UNSEEN))
    status = main(["rules", "test", str(UNSEEN), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == count
    assert len({record["id"] for record in records}) == count
    for record in records:
        assert set(record) >= JSON_KEYS
        assert record["decision"] in {verdict.value for verdict in Verdict}
        assert isinstance(record["conditions"], list)
        assert isinstance(record["reason_codes"], list)
        assert isinstance(record["passed"], bool)
        assert record["file"] == str(UNSEEN)
    assert status == (0 if all(record["passed"] for record in records) else 1)
    assert status == 0


def test_a_wrong_expectation_exits_1_and_says_fail(tmp_path, capsys):
    assert main(["rules", "test", str(scenario_file(tmp_path, expected="allowed"))]) == 1
    out = capsys.readouterr().out
    assert "FAIL  my-case: expected allowed, got forbidden" in out
    title = reason("FR_EMAIL_B2C_CONSENT_REQUIRED").title
    assert f"FR_EMAIL_B2C_CONSENT_REQUIRED ({title})" in out  # the reasons actually given, with their titles
    assert "0 passed, 1 failed, 1 scenarios" in out


def test_a_missing_reason_code_is_a_failure_too(tmp_path, capsys):
    path = scenario_file(tmp_path, expected="forbidden", reason_codes="[FR_SOFT_OPTIN]")
    assert main(["rules", "test", str(path)]) == 1
    assert f"missing reason codes FR_SOFT_OPTIN ({reason('FR_SOFT_OPTIN').title})" in capsys.readouterr().out


def test_an_expected_code_the_catalogue_does_not_know_is_shown_as_written(tmp_path, capsys):
    path = scenario_file(tmp_path, expected="forbidden", reason_codes="[FR_NO_SUCH_CODE]")
    assert main(["rules", "test", str(path)]) == 1
    assert "missing reason codes FR_NO_SUCH_CODE (reasons given: " in capsys.readouterr().out


def test_a_failure_in_json_says_what_is_missing(tmp_path, capsys):
    path = scenario_file(tmp_path, expected="allowed", reason_codes="[FR_SOFT_OPTIN]")
    assert main(["rules", "test", str(path), "--json"]) == 1
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["passed"] is False
    assert record["decision"] == "forbidden"
    assert record["expected_decision"] == "allowed"
    assert record["missing_reason_codes"] == ["FR_SOFT_OPTIN"]


def test_a_correct_expectation_passes(tmp_path, capsys):
    path = scenario_file(tmp_path, expected="forbidden", reason_codes="[FR_EMAIL_B2C_CONSENT_REQUIRED]")
    assert main(["rules", "test", str(path)]) == 0
    assert "ok    my-case: forbidden" in capsys.readouterr().out


def test_one_failing_file_among_several_fails_the_run(tmp_path, capsys):
    wrong = scenario_file(tmp_path, expected="allowed")
    assert main(["rules", "test", str(SCENARIOS), str(wrong)]) == 1
    assert "1 failed" in capsys.readouterr().out


def test_a_scenario_with_an_unknown_fact_is_reported_as_an_error(tmp_path, capsys):
    path = tmp_path / "typo.yaml"
    path.write_text(
        "- id: typo\n  jurisdiction: FR\n  channel: email\n  audience: b2c\n"
        "  evaluated_at: '2026-09-15T10:00:00+02:00'\n  facts: {consent_stat: none}\n"
        "  expected: {decision: forbidden}\n",
        encoding="utf-8",
    )
    assert main(["rules", "test", str(path)]) == 1
    assert "ERROR typo: unknown fact key 'consent_stat'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- id: [unclosed\n", "not valid YAML"),
        ("scenarios:\n  - id: a\n    title: 'unterminated\n", "not valid YAML"),
        ("just: a mapping\n", "expected a list of scenarios"),
    ],
)
def test_a_malformed_scenario_file_exits_2_with_a_clear_message(tmp_path, capsys, content, message):
    path = tmp_path / "broken.yaml"
    path.write_text(content, encoding="utf-8")
    assert main(["rules", "test", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("consentry: ")
    assert str(path) in captured.err
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_rules_test_on_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["rules", "test", str(tmp_path / "nowhere.yaml")]) == 2
    assert "nowhere.yaml" in capsys.readouterr().err


# -- check ----------------------------------------------------------------------------------------------------------

CONTACTS = (
    "contact_id,email,phone,audience,jurisdiction,time_zone,consent_state,consent_date\n"
    "c1,jean.dupont@example.fr,+33612345678,b2c,FR,Europe/Paris,opt_in,2026-09-01\n"
    "c2,marie-at-example.fr,+33612345679,b2c,FR,Europe/Paris,opt_in,2026-09-01\n"
    "c3,paul@example.fr,+33612345670,b2b_nominative,FR,Europe/Paris,none,\n"
)


def check_arguments(contacts: Path, *extra: str) -> list[str]:
    return ["check", str(contacts), "--channel", "phone_human", "--at", "2026-09-15T11:00:00+02:00", *extra]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_check_with_one_bad_row_exits_1_and_still_writes_the_good_rows(tmp_path, capsys, fmt):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    output = tmp_path / f"decisions.{fmt}"
    assert main(check_arguments(contacts, "--format", fmt, "--output", str(output), "--no-progress")) == 1
    assert "3 rows checked, 1 with errors" in capsys.readouterr().err
    text = output.read_text(encoding="utf-8")
    assert "@" not in text
    assert "+336" not in text
    if fmt == "jsonl":
        records = {record["contact_id"]: record for record in map(json.loads, text.splitlines())}
        assert records["c1"]["decision"] == "allowed_with_conditions"
        assert records["c2"]["error"] == "invalid email address"
        assert records["c3"]["reason_codes"] == ["FR_PHONE_B2B_OPTOUT"]
    else:
        lines = text.splitlines()
        assert lines[0].startswith("row,contact_id,decision")
        assert len(lines) == 4
        assert lines[1].startswith("2,c1,allowed_with_conditions,")
        assert lines[2].startswith("3,c2,,")
        assert lines[2].endswith(",invalid email address")


def test_check_writes_to_standard_output_by_default(tmp_path, capsys):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS.splitlines()[0] + "\n" + CONTACTS.splitlines()[1] + "\n", encoding="utf-8")
    assert main(check_arguments(contacts, "--format", "jsonl", "--no-progress")) == 0
    captured = capsys.readouterr()
    [record] = [json.loads(line) for line in captured.out.splitlines()]
    assert record["contact_id"] == "c1"
    assert "1 rows checked, 0 with errors" in captured.err


def test_check_through_the_console_script(tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    result = run_consentry(*check_arguments(contacts, "--format", "jsonl"))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 3
    assert "@" not in result.stdout + result.stderr


def test_check_on_a_missing_file_exits_2(tmp_path, capsys):
    assert main(check_arguments(tmp_path / "nowhere.csv")) == 2
    err = capsys.readouterr().err
    assert err.startswith("consentry: cannot read")
    assert "nowhere.csv" in err


def test_check_on_a_file_with_an_unknown_column_exits_2(tmp_path, capsys):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("contact_id,audience,jurisdiction,shoe_size\nc1,b2c,FR,42\n", encoding="utf-8")
    assert main(check_arguments(contacts)) == 2
    assert "unknown columns: shoe_size" in capsys.readouterr().err


def test_check_on_a_file_that_is_not_utf8_exits_2(tmp_path, capsys):
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes("contact_id,audience,jurisdiction\nc1,b2c,FR\n".encode("utf-16"))
    assert main(check_arguments(contacts)) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_check_refuses_a_timestamp_without_an_offset(tmp_path, capsys):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(contacts), "--channel", "email", "--at", "2026-09-15T11:00:00"])
    assert exit_.value.code == 2
    assert "UTC offset" in capsys.readouterr().err


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`consentry check ... | head -1`: more than a pipe holds, so the command is still writing when the reader
    goes; it ends as `cat` would, with 141 (SIGPIPE) and no traceback."""
    command = [*consentry_command(), "check", str(SAMPLE), "--channel", "email", "--no-progress"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        first = process.stdout.readline()
        process.stdout.close()
        err = process.stderr.read().decode()
        status = process.wait(timeout=120)
    assert first.startswith(b"row,contact_id,decision")
    assert status == 141
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "Exception ignored" not in err


def test_every_option_and_command_has_a_help_text():
    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, command in action.choices.items():
                    if not helps.get(name):
                        missing.append(" ".join([*path, name]))
                    walk(command, [*path, name])
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(" ".join([*path, "/".join(action.option_strings) or action.dest]))

    walk(sdk_cli.build_parser(), ["consentry"])
    assert missing == []


def test_the_help_walk_sees_every_command_and_would_see_a_missing_help(monkeypatch):
    """The walk above reaches the commands of every package, and an option without help fails it."""
    parser = sdk_cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"check", "explain", "db", "ledger", "suppress", "serve", "worker", "report", "rights", "sandbox"} <= set(
        commands
    )
    commands["check"].add_argument("--undocumented")
    monkeypatch.setattr(sdk_cli, "build_parser", lambda: parser)
    with pytest.raises(AssertionError, match="consentry check --undocumented"):
        test_every_option_and_command_has_a_help_text()


# -- explain --------------------------------------------------------------------------------------------------------


def test_explain_prints_the_decision_reasons_confidence_and_sources(capsys):
    status = main(
        [
            "explain",
            "--jurisdiction",
            "FR",
            "--channel",
            "phone_human",
            "--at",
            "2026-08-11T11:00:00+02:00",
            "--fact",
            "callee_timezone=Europe/Paris",
            "--fact",
            "consent_state=none",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert out.startswith("Decision: forbidden\n")
    opt_in = reason("FR_PHONE_B2C_OPTIN_2026")
    assert f"[FR_PHONE_B2C_OPTIN_2026 ({opt_in.title}); confidence: {opt_in.confidence.value}]" in out
    for source in opt_in.sources:
        assert f"source {source.key}: {source.title}" in out
        assert f"<{source.url}>" in out
    assert "What to do:" in out
    assert "[rebuild_or_recollect_consent]" in out


def test_explain_standing_gives_the_verdict_a_tag_shows_whatever_the_hour(capsys):
    evening = ["explain", "--jurisdiction", "FR", "--channel", "phone_human", "--at", "2026-11-24T22:00:00+01:00"]
    evening += ["--fact", "consent_state=opt_in", "--fact", "consent_date=2026-11-01"]
    assert main(evening) == 0
    assert capsys.readouterr().out.startswith("Decision: forbidden\n")  # a call at 22:00
    assert main([*evening, "--standing"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Decision: allowed with conditions\n")
    assert "[must_call_within_allowed_days_and_hours_consumer_tz]" in out


def test_explain_a_scenario_from_a_file_by_id(capsys):
    scenario = next(s for s in load_scenarios(SCENARIOS) if s.request is not None)
    assert main(["explain", "--scenario", str(SCENARIOS), "--id", scenario.id]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Decision: {scenario.expected.decision.value.replace('_', ' ')}\n")
    for code in scenario.expected.reason_codes:
        assert f"[{code} ({reason(code).title}); confidence: " in out


def test_explain_an_unknown_scenario_id_exits_2_listing_the_ids(capsys):
    assert main(["explain", "--scenario", str(SCENARIOS), "--id", "NO-SUCH-ID"]) == 2
    err = capsys.readouterr().err
    assert "no scenario with id NO-SUCH-ID" in err
    assert all(f"\n  {scenario.id}\n" in err + "\n" for scenario in load_scenarios(SCENARIOS))


def test_explain_a_scenario_file_without_id_lists_the_ids_and_explains_none(capsys):
    assert main(["explain", "--scenario", str(SCENARIOS)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "choose one with --id" in captured.err
    ids = [line.strip() for line in captured.err.splitlines() if line.startswith("  ")]
    assert ids == [scenario.id for scenario in load_scenarios(SCENARIOS)]
    assert len(ids) > 1


def test_explain_a_file_of_one_scenario_needs_no_id(tmp_path, capsys):
    assert main(["explain", "--scenario", str(scenario_file(tmp_path, expected="forbidden"))]) == 0
    assert capsys.readouterr().out.startswith("Decision: forbidden\n")


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ([], "--jurisdiction, --channel"),
        (["--jurisdiction", "FR"], "--channel"),
        (["--channel", "email"], "--jurisdiction"),
    ],
)
def test_explain_asks_for_the_jurisdiction_and_channel_instead_of_assuming_them(capsys, given, missing):
    with pytest.raises(SystemExit) as stopped:
        main(["explain", *given])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert f"the following arguments are required: {missing} (or --scenario FILE)" in captured.err
    assert captured.out == ""


def test_explain_a_bad_fact_exits_2_without_echoing_the_value(capsys):
    status = main(
        [
            *("explain", "--jurisdiction", "FR", "--channel", "email", "--at", "2026-09-15T10:00:00+02:00"),
            *("--fact", "consent_date=jean.dupont@example.fr"),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "consent_date" in err
    assert "jean.dupont@example.fr" not in err


# -- demo -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def sdk_only(monkeypatch):
    """The command line as installed with `sdk` alone: no command from other packages' entry points.

    With the web server installed, its whole-product `demo` supersedes the engine-only one (sdk/cli.py).
    """
    monkeypatch.setattr(sdk_cli, "entry_points", lambda group: [])


def demo_table(out: str) -> dict[str, list[int]]:
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if words and words[0] in {channel.value for channel in Channel}:
            rows[words[0]] = [int(word) for word in words[1:4]]
    return rows


@pytest.mark.usefixtures("sdk_only")
def test_the_engine_demo_exits_0_and_prints_a_row_per_channel(capsys):
    assert main(["demo", "--at", "2026-09-15T10:30:00+00:00"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("channel"))
    for column in ("allowed", "with conditions", "forbidden"):
        assert column in header
    table = demo_table(out)
    assert list(table) == [channel.value for channel in DEMO_CHANNELS]
    contacts = len(SAMPLE.read_text(encoding="utf-8").splitlines()) - 1
    for channel, counts in table.items():
        assert sum(counts) == contacts, channel  # every sample contact decided, none invalid
        assert counts[2] > 0, channel  # the sample holds unlawful situations on every channel


@pytest.mark.usefixtures("sdk_only")
def test_the_engine_demo_names_the_main_reasons_for_forbidding(capsys):
    assert main(["demo"]) == 0
    phone = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("phone_human "))
    assert "FR_PHONE_B2C_OPTIN_2026 (" in phone


@pytest.mark.usefixtures("sdk_only")
def test_the_engine_demo_covers_every_channel(capsys):
    assert main(["demo"]) == 0
    assert set(demo_table(capsys.readouterr().out)) == {c.value for c in Channel if c is not Channel.ANY}
