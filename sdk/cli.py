"""The `consentry` command line.

The core commands live here; other packages (connectors, the web server) add theirs through the entry-point group
`consentry.commands`: each entry is a function `register(subparsers)` that adds a sub-command whose parser sets
`handler` to a function taking the parsed arguments and returning an exit status. A command that uses the database
says so with `cli_store.uses_database(parser)`, and is not run before `consentry db upgrade`. Every option has a
help text (a test walks the parser).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import cli_store, rules_docs
from .catalogue import reason_label
from .contacts_csv import check_stream
from .errors import ConsentryError, InvalidInputError
from .explain import explain
from .rules import evaluate
from .scenarios import ScenarioResult, load_scenarios, request_from_fields, run_scenarios
from .vocabulary import Action, Audience, Channel

if TYPE_CHECKING:
    from .cli_store import Commands
    from .models import Request

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # as a shell reports a command killed by SIGPIPE
_CHANNELS = [channel.value for channel in Channel if channel is not Channel.ANY]
_CHANNEL_METAVAR = "{" + ",".join(_CHANNELS) + "}"
SAMPLE_CONTACTS = Path(__file__).parent / "samples" / "contacts.csv"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A reader that stops early (`consentry ... | head`) ends it quietly, as it would end `cat`
    (the recipe of Python's `signal` documentation)."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, while a broken pipe can still be caught
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "handler"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        _check_database(arguments)
        handler: Callable[[argparse.Namespace], int] = arguments.handler
        return handler(arguments)
    except ConsentryError as error:
        print(f"consentry: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _check_database(arguments: argparse.Namespace) -> None:
    """Before a command that uses the database: its schema is there and current, or it says what to run (and no
    empty database is created). A server or worker may start while the database is unreachable, and wait for it."""
    if not getattr(arguments, "needs_schema", False):
        return
    from .settings import load_settings
    from .store.migrate import DatabaseUnreachable, require_current

    try:
        require_current(load_settings().database_url)
    except DatabaseUnreachable:
        if not getattr(arguments, "waits_for_database", False):
            raise


def _discard_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's own flush at exit does not fail again."""
    with contextlib.suppress(OSError, ValueError):  # a standard output without a descriptor (a test's): no flush
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consentry", description="Keep commercial prospecting lawful across CRMs.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_rules(commands)
    _add_check(commands)
    _add_explain(commands)
    cli_store.register(commands, moment)
    for entry in sorted(entry_points(group="consentry.commands"), key=lambda e: e.name):
        entry.load()(commands)
    if "demo" not in commands.choices:  # the web server's full demo supersedes the engine-only one
        _add_demo(commands)
    return parser


def moment(text: str) -> datetime:
    """An ISO-8601 timestamp with its UTC offset (a bare date or naive time would be ambiguous)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO-8601 timestamp such as 2026-09-01T10:30:00+02:00") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("the timestamp needs a UTC offset, e.g. +02:00 or Z")
    return value


# -- rules test, rules docs -----------------------------------------------------------------------------------------


def _add_rules(commands: Commands) -> None:
    rules = commands.add_parser("rules", help="work with the rule set")
    actions = rules.add_subparsers(title="actions", metavar="ACTION", required=True)
    test = actions.add_parser("test", help="evaluate scenario files and report pass/fail")
    test.add_argument("files", nargs="+", type=Path, metavar="FILE", help="YAML scenario files")
    test.add_argument("--json", action="store_true", help="one JSON object per scenario and line")
    test.set_defaults(handler=_rules_test)
    docs = actions.add_parser("docs", help="write the rules reference (reason codes, facts, conditions, sources)")
    docs.add_argument("--output", type=Path, required=True, metavar="DIR", help="folder to write the Markdown into")
    docs.set_defaults(handler=_rules_docs)


def _rules_docs(arguments: argparse.Namespace) -> int:
    for path in rules_docs.write(arguments.output):
        print(path)
    return EXIT_OK


def _rules_test(arguments: argparse.Namespace) -> int:
    total = failed = 0
    for path in arguments.files:
        for result in run_scenarios(load_scenarios(path)):
            total += 1
            failed += not result.passed
            if arguments.json:
                print(json.dumps({"file": str(path), **result.to_dict()}, ensure_ascii=False))
            else:
                print(_result_line(result))
    if not arguments.json:
        print(f"\n{total - failed} passed, {failed} failed, {total} scenarios")
    return EXIT_FAILED if failed else EXIT_OK


def _result_line(result: ScenarioResult) -> str:
    scenario, decision, expected = result.scenario, result.decision, result.scenario.expected
    if scenario.error or decision is None or expected is None:  # a scenario without an error has both
        return f"ERROR {scenario.id}: {scenario.error}"
    if result.passed:
        return f"ok    {scenario.id}: {decision.verdict.value}"
    problems = []
    if decision.verdict is not expected.decision:
        problems.append(f"expected {expected.decision.value}, got {decision.verdict.value}")
    if result.missing_conditions:
        problems.append(f"missing conditions {', '.join(result.missing_conditions)}")
    if result.missing_reason_codes:
        problems.append(f"missing reason codes {', '.join(map(reason_label, result.missing_reason_codes))}")
    produced = ", ".join(map(reason_label, decision.reason_codes))
    return f"FAIL  {scenario.id}: {'; '.join(problems)} (reasons given: {produced})"


# -- check ----------------------------------------------------------------------------------------------------------


def _add_check(commands: Commands) -> None:
    check = commands.add_parser("check", help="decide every contact of a CSV file for one channel")
    check.add_argument("contacts", type=Path, metavar="CONTACTS.csv", help="the contacts, one per row (UTF-8)")
    check.add_argument(
        "--channel",
        required=True,
        type=Channel,
        choices=_CHANNELS,
        metavar=_CHANNEL_METAVAR,
        help="the channel to judge",
    )
    check.add_argument("--at", type=moment, help="when the contact would happen (default: now)")
    check.add_argument(
        "--format", choices=("csv", "jsonl"), default="csv", help="csv (default), or one JSON object per line"
    )
    check.add_argument("--output", type=Path, help="write there instead of the standard output")
    check.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    check.add_argument("--jobs", type=int, default=1, help="worker processes judging new situations (default 1)")
    check.set_defaults(handler=_check)


def _check(arguments: argparse.Namespace) -> int:
    at = arguments.at or datetime.now(UTC)
    try:
        source = arguments.contacts.open(newline="", encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(f"cannot read {arguments.contacts}: {error.strerror}") from None
    out = arguments.output.open("w", newline="", encoding="utf-8") if arguments.output else sys.stdout
    progress = _progress_bar(arguments, out)
    try:
        with source:
            rows, errors = check_stream(
                source,
                out,
                channel=arguments.channel,
                at=at,
                fmt=arguments.format,
                progress=progress,
                jobs=arguments.jobs,
            )
    except UnicodeDecodeError:
        raise InvalidInputError(f"{arguments.contacts} is not UTF-8 text") from None
    finally:
        if progress is not None:
            progress.close()
        if out is not sys.stdout:
            out.close()
    print(f"{rows} rows checked, {errors} with errors", file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _progress_bar(arguments: argparse.Namespace, out: IO[str]) -> Any:
    """A progress bar on a terminal only, and never on the stream that carries the results."""
    if arguments.no_progress or not sys.stderr.isatty() or out is sys.stderr:
        return None
    from tqdm import tqdm

    return tqdm(unit=" rows", file=sys.stderr)


# -- explain --------------------------------------------------------------------------------------------------------


_EXPLAINED = ("--jurisdiction", "--channel")  # asked for, never assumed: a wrong guess would explain another case


def _add_explain(commands: Commands) -> None:
    explain_parser = commands.add_parser("explain", help="one decision in plain words, with its sources")
    explain_parser.add_argument("--jurisdiction", help="the contact's country, ISO 3166 (FR, DE, ...)")
    explain_parser.add_argument(
        "--channel", type=Channel, choices=_CHANNELS, metavar=_CHANNEL_METAVAR, help="the channel of the contact"
    )
    explain_parser.add_argument(
        "--audience", default="b2c", choices=list(Audience), help="who is contacted (default: b2c, a consumer)"
    )
    explain_parser.add_argument(
        "--action", default="send", choices=list(Action), help="what would be done (default: send a message)"
    )
    explain_parser.add_argument("--at", type=moment, help="when, ISO 8601 with its UTC offset (default: now)")
    explain_parser.add_argument(
        "--fact", action="append", default=[], metavar="KEY=VALUE", help="a fact of the scenario vocabulary"
    )
    explain_parser.add_argument(
        "--standing",
        action="store_true",
        help="the verdict a CRM tag shows, whatever the hour: calling hours become a condition of each call",
    )
    explain_parser.add_argument(
        "--scenario", type=Path, metavar="FILE", help="explain a scenario from this file instead"
    )
    explain_parser.add_argument("--id", help="the scenario's id in --scenario")
    explain_parser.set_defaults(handler=_explain, usage_error=explain_parser.error)


def _explain(arguments: argparse.Namespace) -> int:
    if arguments.scenario:
        request = _scenario_request(arguments.scenario, arguments.id)
    else:
        missing = [option for option in _EXPLAINED if getattr(arguments, option.removeprefix("--")) is None]
        if missing:
            arguments.usage_error(f"the following arguments are required: {', '.join(missing)} (or --scenario FILE)")
        facts = dict(_fact(text) for text in arguments.fact)
        request = request_from_fields(
            {
                "jurisdiction": arguments.jurisdiction,
                "channel": arguments.channel.value,
                "audience": arguments.audience,
                "action": arguments.action,
                "evaluated_at": (arguments.at or datetime.now(UTC)).isoformat(),
                "facts": facts,
            }
        )
    if arguments.standing:
        request = replace(request, standing=True)
    print(explain(request, evaluate(request)))
    return EXIT_OK


def _fact(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator:
        raise InvalidInputError("a fact is written KEY=VALUE", field="fact")
    return key.strip(), _fact_value(value.strip())


def _fact_value(text: str) -> object:
    """Facts on the command line are typed the YAML way (true, 3, 2026-01-01, [a, b])."""
    import yaml

    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return text


def _scenario_request(path: Path, ident: str | None) -> Request:
    """The scenario named by `ident`; without one, the file's only scenario. Otherwise the ids to choose from."""
    scenarios = load_scenarios(path)
    if ident:
        matches = [scenario for scenario in scenarios if scenario.id == ident]
    else:
        matches = scenarios if len(scenarios) == 1 else []
    if not matches:
        problem = f"no scenario with id {ident} in {path}" if ident else f"{path} holds {len(scenarios)} scenarios"
        ids = "".join(f"\n  {scenario.id}" for scenario in scenarios)
        raise InvalidInputError(f"{problem}; choose one with --id:{ids}", field="id")
    if matches[0].request is None:
        raise InvalidInputError(f"scenario {matches[0].id}: {matches[0].error}")
    return matches[0].request


# -- demo -----------------------------------------------------------------------------------------------------------


def _add_demo(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="run the main job on the embedded defaults")
    demo.add_argument(
        "--at",
        type=moment,
        default=datetime(2026, 9, 15, 10, 30, tzinfo=UTC),
        help="judge as of this moment (default: 2026-09-15T10:30:00Z)",
    )
    demo.set_defaults(handler=_demo)


def _demo(arguments: argparse.Namespace) -> int:
    from .demo import run_engine_demo

    return run_engine_demo(SAMPLE_CONTACTS, at=arguments.at)


if __name__ == "__main__":
    sys.exit(main())
