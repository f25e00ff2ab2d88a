"""Commands on the database: schema, ledger proof, suppression list, retention and erasure."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .consent_state import ALL_CHANNELS, ConsentEvent
from .errors import InvalidInputError
from .identity import IdentifierKind
from .settings import load_settings
from .store import upgrade
from .store.migrate import describe, sqlite_path

if TYPE_CHECKING:
    from .services import Services

    # The sub-command table that `consentry` and each entry point of `consentry.commands` add their commands to.
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_FOUND, EXIT_FAILED = 0, 1, 1


def uses_database(parser: argparse.ArgumentParser, *, waits: bool = False) -> None:
    """Mark a command (and its actions) as using the database: `consentry` checks, before running it, that the
    schema is there and current, and otherwise says to run `consentry db upgrade`. `waits`: a long-running process
    (server, worker) starts even while the database is unreachable, and waits for it."""
    parser.set_defaults(needs_schema=True, waits_for_database=waits)


def register(commands: Commands, moment: Callable[[str], datetime]) -> None:
    db = commands.add_parser("db", help="database schema").add_subparsers(metavar="ACTION", required=True)
    db.add_parser("upgrade", help="create or upgrade the schema").set_defaults(handler=_db_upgrade)

    ledger_command = commands.add_parser("ledger", help="the consent ledger")
    uses_database(ledger_command)
    ledger = ledger_command.add_subparsers(metavar="ACTION", required=True)
    proof = ledger.add_parser("proof", help="export one person's consent history and proof as JSON")
    _identity_arguments(proof)
    proof.set_defaults(handler=_ledger_proof)
    record = ledger.add_parser("record", help="append one consent event")
    _identity_arguments(record)
    record.add_argument("--key", required=True, help="idempotency key of the event")
    record.add_argument(
        "--kind", required=True, choices=("granted", "withdrawn", "objected", "regranted"), help="what happened"
    )
    record.add_argument("--channel", required=True, help="the channel it is about, e.g. email or phone_human")
    record.add_argument("--advertiser", required=True, help="the advertiser the consent is given to or refused")
    record.add_argument("--purpose", default="prospecting", help="what the consent is for (default: prospecting)")
    record.add_argument("--occurred-at", required=True, type=moment, help="when, ISO 8601 with its UTC offset")
    record.add_argument("--source", default="cli", help="source system (default: cli)")
    for name, text in PROOF_OPTIONS.items():
        record.add_argument(f"--{name}", help=f"proof: {text}")
    record.set_defaults(handler=_ledger_record)

    suppress = commands.add_parser("suppress", help="the suppression list (liste repoussoir)")
    uses_database(suppress)
    actions = suppress.add_subparsers(metavar="ACTION", required=True)
    add = actions.add_parser("add", help="suppress an identifier")
    _identity_arguments(add)
    add.add_argument("--channels", default=ALL_CHANNELS, help="';'-separated channels, or all (default)")
    add.add_argument(
        "--reason",
        default="GDPR_OBJECTION_ABSOLUTE",
        help="the reason code recorded (default: GDPR_OBJECTION_ABSOLUTE)",
    )
    add.set_defaults(handler=_suppress_add)
    check = actions.add_parser("check", help="is it suppressed? exit status 1 when it is")
    _identity_arguments(check)
    check.set_defaults(handler=_suppress_check)
    imported = actions.add_parser("import", help="import a hashed list, or clear identifiers (one per line)")
    imported.add_argument("file", type=Path, help="the list: the CSV of `suppress export`, or one identifier a line")
    imported.add_argument("--clear", choices=("email", "phone"), help="the file holds clear identifiers of this kind")
    imported.add_argument("--channels", default=ALL_CHANNELS, help="with --clear: ';'-separated channels, or all")
    imported.add_argument(
        "--reason",
        default="IMPORTED_OBJECTION",
        help="with --clear: the reason code recorded (default: IMPORTED_OBJECTION)",
    )
    imported.set_defaults(handler=_suppress_import)
    exported = actions.add_parser("export", help="export the hashed list as CSV")
    exported.add_argument("--output", type=Path, help="write the CSV there instead of the standard output")
    exported.set_defaults(handler=_suppress_export)

    retention = commands.add_parser("retention", help="data past its retention period")
    uses_database(retention)
    steps = retention.add_subparsers(metavar="ACTION", required=True)
    for name, handler, text in (
        ("plan", _retention_plan, "list what would go and why (dry run)"),
        ("apply", _retention_apply, "delete it, keeping suppression hashes"),
    ):
        step = steps.add_parser(name, help=text)
        step.add_argument("--at", type=moment, help="judge as of this moment (default: now)")
        step.set_defaults(handler=handler)

    erase = commands.add_parser("erase", help="erase a person (right to be forgotten), keeping the suppression hash")
    uses_database(erase)
    _identity_arguments(erase)
    erase.set_defaults(handler=_erase)


PROOF_OPTIONS = {
    "source-record-id": "the record's id in the source system",
    "collection-point": "where it was collected, e.g. the form's URL",
    "wording": "the text the person agreed to",
    "wording-version": "that text's version",
    "method": "how it was collected, e.g. double_opt_in",
    "ip": "the IP address it came from",
    "user-agent": "the browser it came from",
}


def _identity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", help="the person's email address")
    parser.add_argument("--phone", help="the person's phone number, E.164 or French national")


def _services() -> contextlib.closing[Services]:
    """`with _services() as services:` the store's services, closed when the command is done with them."""
    from .services import open_services

    return contextlib.closing(open_services())


def _db_upgrade(_arguments: argparse.Namespace) -> int:
    url = load_settings().database_url
    done = upgrade(url)
    if done.before is None:
        what = describe(url) if sqlite_path(url) else f"the schema in {describe(url)}"
        print(f"created {what}, schema revision {done.after}", file=sys.stderr)
    elif done.before != done.after:
        print(f"upgraded {describe(url)} from schema revision {done.before} to {done.after}", file=sys.stderr)
    else:
        print(f"{describe(url)} is already at schema revision {done.after}", file=sys.stderr)
    return EXIT_OK


def _ledger_proof(arguments: argparse.Namespace) -> int:
    with _services() as services:
        print(json.dumps(services.ledger.proof(email=arguments.email, phone=arguments.phone), indent=2))
    return EXIT_OK


def _ledger_record(arguments: argparse.Namespace) -> int:
    event = ConsentEvent(
        event_key=arguments.key,
        kind=arguments.kind,
        channel=arguments.channel,
        occurred_at=arguments.occurred_at,
        source_system=arguments.source,
        advertiser=arguments.advertiser,
        purpose=arguments.purpose,
        source_record_id=arguments.source_record_id,
        collection_point=arguments.collection_point,
        wording=arguments.wording,
        wording_version=arguments.wording_version,
        method=arguments.method,
        ip=arguments.ip,
        user_agent=arguments.user_agent,
    )
    with _services() as services:
        added = services.ledger.append(event, email=arguments.email, phone=arguments.phone)
    print("recorded" if added else "already recorded (same key)", file=sys.stderr)
    return EXIT_OK


def _one_identifier(arguments: argparse.Namespace) -> tuple[IdentifierKind, str]:
    if bool(arguments.email) == bool(arguments.phone):
        raise InvalidInputError("give exactly one of --email or --phone")
    return (IdentifierKind.EMAIL, arguments.email) if arguments.email else (IdentifierKind.PHONE, arguments.phone)


def _suppress_add(arguments: argparse.Namespace) -> int:
    kind, value = _one_identifier(arguments)
    with _services() as services:
        services.suppression.add(kind, value, channels=arguments.channels, reason_code=arguments.reason)
    print("suppressed", file=sys.stderr)
    return EXIT_OK


def _suppress_check(arguments: argparse.Namespace) -> int:
    kind, value = _one_identifier(arguments)
    with _services() as services:
        found = services.suppression.check(kind, value)
    if found is None:
        print("not suppressed")
        return EXIT_OK
    print(f"suppressed for {';'.join(sorted(found.channels))} since {found.added_on} ({found.reason_code})")
    return EXIT_FOUND


def _suppress_import(arguments: argparse.Namespace) -> int:
    with _services() as services:
        try:
            with arguments.file.open(newline="", encoding="utf-8") as source:
                if arguments.clear:
                    values = [line.strip() for line in source if line.strip()]
                    count = services.suppression.import_identifiers(
                        IdentifierKind(arguments.clear),
                        values,
                        channels=arguments.channels,
                        reason_code=arguments.reason,
                    )
                else:
                    count = services.suppression.import_hashed(source)
        except OSError as error:
            raise InvalidInputError(f"cannot read {arguments.file}: {error.strerror}") from None
    print(f"{count} entries imported", file=sys.stderr)
    return EXIT_OK


def _suppress_export(arguments: argparse.Namespace) -> int:
    with _services() as services:  # first: a store that cannot open leaves no empty output file behind
        out = arguments.output.open("w", newline="", encoding="utf-8") if arguments.output else sys.stdout
        try:
            count = services.suppression.export(out)
        finally:
            if out is not sys.stdout:
                out.close()
    print(f"{count} entries exported", file=sys.stderr)
    return EXIT_OK


def _retention_plan(arguments: argparse.Namespace) -> int:
    from .retention import plan

    with _services() as services:
        count = 0
        for item in plan(services.engine, at=arguments.at):
            count += 1
            print(
                json.dumps(
                    {
                        "contact": item.contact_id,
                        "system": item.source_system,
                        "record": item.source_record_id,
                        "action": item.action,
                        "reason_codes": list(item.reason_codes),
                    }
                )
            )
    print(f"{count} contacts due", file=sys.stderr)
    return EXIT_OK


def _retention_apply(arguments: argparse.Namespace) -> int:
    from .retention import apply

    with _services() as services:
        deleted = apply(services.engine, at=arguments.at)
    print(f"{deleted} contacts deleted; suppression hashes kept", file=sys.stderr)
    return EXIT_OK


def _erase(arguments: argparse.Namespace) -> int:
    from .erasure import ErasureIncomplete, erase

    with _services() as services:
        try:
            erased = erase(services.engine, services.suppression, email=arguments.email, phone=arguments.phone)
        except ErasureIncomplete as error:
            print(f"erasure incomplete: {error}", file=sys.stderr)
            return EXIT_FAILED
    print(
        f"erased: {erased.events_removed} ledger events, {erased.contacts_removed} contacts; "
        "the suppression hash is kept",
        file=sys.stderr,
    )
    if erased.opt_outs_held:
        print(
            f"{erased.opt_outs_held} opt-outs still on their way to other systems keep the identifiers they deliver "
            "until they are done (`consentry propagation failed` lists those that ran out of retries)",
            file=sys.stderr,
        )
    return EXIT_OK
