"""`consentry rights request|extend|list|show|export`: data subjects' requests on the GDPR's clock.

`request` prints the new request's id and due date as its last line (`ID YYYY-MM-DD`); the workers then carry it
out in every connected system. Output names requests by id, never by the person's address or number.
"""

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from consentry.sdk.cli_store import uses_database
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.rights import RightsKind, RightsStatus, rights_kind


def register(commands) -> None:
    rights = commands.add_parser("rights", help="data subjects' requests (erasure, access, objection), on the clock")
    uses_database(rights)
    actions = rights.add_subparsers(metavar="ACTION", required=True)

    request = actions.add_parser("request", help="record a request; its last line of output is `ID DUE-DATE`")
    request.add_argument(
        "kind", type=rights_kind, metavar="|".join(kind.value for kind in RightsKind), help="what the person asks for"
    )
    request.add_argument("--email", help="the person's email address")
    request.add_argument("--phone", help="the person's phone number, E.164 or French national")
    request.add_argument(
        "--received-at",
        type=_received_at,
        help="when the request arrived, ISO 8601 (its day is read in this offset, or in Europe/Paris without one; "
        "default: now)",
    )
    request.add_argument(
        "--verified-by",
        help="how the person's identity was checked (never a copy of a document); without it the request is "
        "carried out and says so",
    )
    request.set_defaults(handler=_request)

    extend = actions.add_parser("extend", help="move a request's due date two months further, once (Art. 12(3))")
    extend.add_argument("id", type=int, help="the request's id")
    extend.add_argument("--reason", required=True, help="why, as the person is told")
    extend.set_defaults(handler=_extend)

    listing = actions.add_parser("list", help="requests, overdue first, with each system's status")
    listing.add_argument("--overdue", action="store_true", help="only those not done and past their due date")
    listing.add_argument("--status", type=RightsStatus, choices=list(RightsStatus), help="only those in this status")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="one request and each system's status")
    show.add_argument("id", type=int, help="the request's id")
    show.add_argument("--json", action="store_true", help='{"id", "kind", "status", "due", "systems": {...}}')
    show.set_defaults(handler=_show)

    export = actions.add_parser("export", help="an access request's answer: what every system holds")
    export.add_argument("id", type=int, help="the access request's id")
    export.add_argument("--output", type=Path, required=True, help="FILE.json or FILE.html")
    export.set_defaults(handler=_export)


def _received_at(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected an ISO-8601 date or time, such as 2026-12-03T10:30:00+01:00"
        ) from None


def _request(arguments) -> int:
    from .rights import open_request
    from .runtime import build_runtime

    runtime = build_runtime(receives_webhooks=False)  # the connectors, not their webhook secrets
    try:
        opened = open_request(
            runtime.services,
            sorted(runtime.connectors),
            arguments.kind,
            email=arguments.email,
            phone=arguments.phone,
            received_at=arguments.received_at,
            verified_by=arguments.verified_by,
            advertiser=runtime.advertiser,
        )
    finally:
        runtime.close()
    if not arguments.verified_by:
        print("note: recorded without --verified-by: the identity was not checked, and the request says so")
    print(f"{arguments.kind.value} request recorded; due {opened.due.isoformat()} (one month from receipt)")
    print(f"{opened.id} {opened.due.isoformat()}")
    return 0


def _extend(arguments) -> int:
    from .rights import extend

    engine = _engine()
    try:
        due = extend(engine, arguments.id, arguments.reason)
    finally:
        engine.dispose()
    print(f"{arguments.id} {due.isoformat()}")
    return 0


def _list(arguments) -> int:
    from .rights import list_requests

    engine = _engine()
    try:
        found = list_requests(engine, overdue=arguments.overdue, status=arguments.status)
    finally:
        engine.dispose()
    for answer in found:
        late = "  OVERDUE" if answer["overdue"] else ""
        systems = " ".join(f"{name}={status}" for name, status in answer["systems"].items())
        print(f"{answer['id']}\t{answer['kind']}\t{answer['status']}\tdue {answer['due']}{late}\t{systems}")
    return 0


def _show(arguments) -> int:
    from .rights import show

    engine = _engine()
    try:
        answer = show(engine, arguments.id)
    finally:
        engine.dispose()
    if arguments.json:
        print(json.dumps(answer))
        return 0
    print(f"request {answer['id']}: {answer['kind']}, {answer['status']}, due {answer['due']}")
    print(f"received {answer['received_at']} ({answer['source']}); identity: {answer['verified_by'] or 'not checked'}")
    for name, status in answer["systems"].items():
        detail = answer["details"].get(name)
        print(f"  {name}: {status}" + (f" ({detail})" if detail else ""))
    return 0


def _export(arguments) -> int:
    from .rights_export import export_request
    from .runtime import build_runtime

    suffix = arguments.output.suffix.lower()
    if suffix not in (".json", ".html"):
        raise InvalidInputError("--output ends in .json or .html", field="output")
    runtime = build_runtime(receives_webhooks=False)  # the connectors, not their webhook secrets
    try:
        statuses = export_request(runtime, arguments.id, arguments.output)
    finally:
        runtime.close()
    for name, status in statuses.items():
        print(f"{name}: {status}", file=sys.stderr)
    print(arguments.output)
    return 0 if all(status == "done" for status in statuses.values()) else 1


def _engine():
    """The database alone: reading requests needs neither the pepper nor the connectors."""
    from consentry.sdk.settings import load_settings
    from consentry.sdk.store import make_engine

    return make_engine(load_settings().database_url)
