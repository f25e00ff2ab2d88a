"""An access request's answer (GDPR Art. 15): what Consentry and every connected system hold about the person.

The file's top-level keys are the systems: "consentry" (the ledger's events with their proof and states, the
suppression entries of each identifier, the propagation history, the contacts synced) then each connector, with
every record's fields as the vendor returns them. A system that fails is marked so, the others are still exported,
and the export can be run again. Each system's status is recorded in the request (`exported`): `rights show` then
says whether the request is answered.

It holds personal data: written atomically, readable by its owner only (0600), never logged.
"""

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Connection, select

from consentry.connectors.base import Capability, Connector, DataSubject
from consentry.sdk.errors import ConnectorError, InvalidInputError
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.persons import find_person
from consentry.sdk.rights import LOCAL_SYSTEM
from consentry.sdk.services import Services
from consentry.sdk.store import consistent_reading, contacts, propagation_jobs

from .rights import access_request, record_export
from .runtime import Runtime

log = logging.getLogger("consentry.rights")

FORMATS = (".json", ".html")
_TEMPLATES = Environment(loader=PackageLoader("consentry.webhook_server"), autoescape=select_autoescape(["html"]))
_JOB_FIELDS = (
    "event_key",
    "source_system",
    "target_system",
    "channel",
    "action",
    "status",
    "attempts",
    "received_at",
    "done_at",
    "outcome",
    "last_error",
)
_CONTACT_SKIPPED = ("id", "person_id", "source_system", "source_record_id", "kept_fields")


def export_request(runtime: Runtime, request_id: int, output: Path) -> dict[str, str]:
    """Write what every system holds about an access request's person to `output` (.json or .html), record each
    system's status ("done" or "failed") in the request, and return it. A refused request writes nothing."""
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInputError("--output ends in .json or .html", field="output")
    if not output.parent.is_dir():
        raise InvalidInputError("the folder of --output does not exist", field="output")
    request = access_request(runtime.services.engine, request_id)
    held = gather(runtime.services, runtime.connectors, email=request.email, phone=request.phone)
    held[LOCAL_SYSTEM]["request"] = {
        "id": request.id,
        "received_at": _plain(request.received_at),
        "due": _plain(request.due_on),
    }
    _write_privately(output, _json(held) if suffix == ".json" else _html(held, request.id))
    statuses = {name: section["status"] for name, section in held.items()}
    record_export(runtime.services.engine, request_id, statuses)
    log.info("rights request %s: exported (%s)", request_id, ", ".join(f"{n}={s}" for n, s in statuses.items()))
    return statuses


def gather(
    services: Services,
    connectors: Mapping[str, Connector],
    *,
    email: str | None,
    phone: str | None,
    within: Connection | None = None,
) -> dict[str, dict[str, Any]]:
    """Per system, its status and what it holds: Consentry's own first, then each connector's, by name.

    Consentry's own section is read in one snapshot (`within`, or its own `consistent_reading`): an opt-out that
    lands meanwhile is in all of it or in none, never in the suppression entries without its event."""
    with consistent_reading(services.engine, within) as connection:
        proof = services.ledger.proof(email=email, phone=phone, within=connection)
        person_id = find_person(connection, email, phone)
        synced = _contacts(connection, person_id)
        jobs = _jobs(connection, person_id)
        suppression = [
            _entry(entry)
            for kind, identifier in ((IdentifierKind.EMAIL, email), (IdentifierKind.PHONE, phone))
            if identifier
            for entry in services.suppression.entries_of(kind, identifier, within=connection)
        ]
    held: dict[str, dict[str, Any]] = {
        LOCAL_SYSTEM: {
            "status": "done",
            "exported_at": proof["exported_at"],
            "person": proof["person"],
            "events": proof["events"],
            "states": proof["states"],
            "suppression": suppression,
            "propagation": jobs,
            "contacts": synced,
        }
    }
    for name, connector in sorted(connectors.items()):
        record_ids = tuple(contact["record_id"] for contact in synced if contact["system"] == name)
        held[name] = _exported_from(connector, DataSubject(email=email, phone=phone, record_ids=record_ids))
    return held


def _exported_from(connector: Connector, subject: DataSubject) -> dict[str, Any]:
    """One system's section; a failure is its error code only (a vendor's message may quote the person)."""
    if not connector.supports(Capability.EXPORT_PEOPLE):
        return {"status": "failed", "error": "EXPORT_NOT_SUPPORTED", "records": []}
    try:
        records = connector.export_person(subject)
    except ConnectorError as error:
        code = error.code or "CONNECTOR_ERROR"
        log.warning("access export: %s failed (%s)", connector.name, code)
        return {"status": "failed", "error": code, "records": []}
    return {
        "status": "done",
        "error": None,
        "records": [
            {"kind": record.kind, "record_id": record.record_id, "fields": dict(record.fields)} for record in records
        ],
    }


def _contacts(connection: Connection, person_id: int | None) -> list[dict[str, Any]]:
    if person_id is None:
        return []
    rows = connection.execute(
        select(contacts)
        .where(contacts.c.person_id == person_id)
        .order_by(contacts.c.source_system, contacts.c.source_record_id)
    ).mappings()
    return [
        {
            "system": row["source_system"],
            "record_id": row["source_record_id"],
            **{name: _plain(value) for name, value in row.items() if name not in _CONTACT_SKIPPED},
            "kept_fields": json.loads(row["kept_fields"]) if row["kept_fields"] else None,
        }
        for row in rows
    ]


def _jobs(connection: Connection, person_id: int | None) -> list[dict[str, Any]]:
    if person_id is None:
        return []
    table = propagation_jobs.c
    rows = connection.execute(
        select(*(getattr(table, name) for name in _JOB_FIELDS))
        .where(table.person_id == person_id)
        .order_by(table.received_at, table.id)
    ).mappings()
    return [{name: _plain(value) for name, value in row.items()} for row in rows]


def _entry(entry: Mapping[str, str]) -> dict[str, Any]:
    return {**entry, "channels": entry["channels"].split(";")}


def _plain(value: Any) -> Any:
    """Dates and times as ISO 8601."""
    return value.isoformat() if isinstance(value, date) else value


# -- writing --------------------------------------------------------------------------------------------------------


def _json(held: Mapping[str, Any]) -> str:
    return json.dumps(held, indent=2, ensure_ascii=False, default=str) + "\n"


def _html(held: Mapping[str, Mapping[str, Any]], request_id: int) -> str:
    """One section per system: Consentry's lists as tables, each vendor record's fields flattened into rows."""
    local = held[LOCAL_SYSTEM]
    parts = [
        ("The person", [local["person"]] if local["person"] else []),
        ("Consent events, with their proof", local["events"]),
        ("Consent states", local["states"]),
        ("Suppression list entries (keyed hashes)", local["suppression"]),
        ("Propagation history", local["propagation"]),
        ("Records synced from each system", local["contacts"]),
    ]
    vendors = [
        {
            "name": name,
            "status": section["status"],
            "error": section["error"],
            "records": [{**record, "fields": _flattened(record["fields"])} for record in section["records"]],
        }
        for name, section in held.items()
        if name != LOCAL_SYSTEM
    ]
    return _TEMPLATES.get_template("rights_export.html").render(
        request_id=request_id,
        exported_at=local["exported_at"],
        parts=[(title, [_listed(row) for row in rows]) for title, rows in parts],
        vendors=vendors,
    )


def _listed(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for a table cell each: nested values as compact JSON."""
    return {name: _text(value) for name, value in row.items()}


def _flattened(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A vendor's nested fields as (dotted name, text) rows: `properties.email`, `tags[0].name`."""
    if isinstance(value, Mapping) and value:
        return [
            pair
            for key, inner in value.items()
            for pair in _flattened(inner, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(value, list) and any(isinstance(item, Mapping | list) for item in value):
        return [pair for index, item in enumerate(value) for pair in _flattened(item, f"{prefix}[{index}]")]
    return [(prefix, _text(value))]


def _text(value: Any) -> str:
    """A cell's text: lists of plain values joined, anything else nested as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return "" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _write_privately(output: Path, content: str) -> None:
    """A temporary file beside `output`, made 0600 before any byte is written, then renamed over it: a reader sees
    the old file or the whole new one, and nobody else can read either."""
    descriptor, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
