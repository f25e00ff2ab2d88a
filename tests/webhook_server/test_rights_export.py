"""The access export: what Consentry and each connected system hold about a person, as JSON or a self-contained
HTML page, 0600, each system's status recorded so that `rights show` says whether the request is answered."""

import json
import logging
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from consentry.connectors.base import Capability, Connector, DataSubject, ExportedRecord
from consentry.sdk.consent_state import ConsentEvent
from consentry.sdk.errors import ConnectorError, InvalidInputError
from consentry.sdk.rights import RightsKind
from consentry.sdk.services import open_services
from consentry.sdk.settings import load_settings
from consentry.sdk.store import consistent_reading, contacts, persons, propagation_jobs, rights_requests
from consentry.webhook_server import rights_export
from consentry.webhook_server.rights import open_request, show
from consentry.webhook_server.rights_export import export_request
from consentry.webhook_server.runtime import Runtime

T = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
JANE = "jane.export@example.com"
PHONE = "+33612345678"
VENDORS = ("hubspot", "mailchimp", "salesforce")


class FakeVendor(Connector):
    """A vendor that exports the records it is given, or fails as told (its message quoting the person, as a
    vendor's may)."""

    capabilities = frozenset({Capability.EXPORT_PEOPLE})

    def __init__(self, name: str, records: list[ExportedRecord] = (), failing: bool = False):
        super().__init__({})
        self.name, self.records, self.failing = name, list(records), failing
        self.asked: list[DataSubject] = []

    def export_person(self, subject):
        self.asked.append(subject)
        if self.failing:
            raise ConnectorError(f"{self.name}: 503 for {subject.email}", retryable=True, code="SERVER_ERROR")
        return self.records


class SilentVendor(Connector):
    """A connector that cannot export."""

    name = "silent"
    capabilities = frozenset({Capability.PUSH_UNSUBSCRIBE})


def record(system: str, record_id: str, **fields) -> ExportedRecord:
    return ExportedRecord(system, "contact", record_id, fields)


@pytest.fixture
def services(database_url):
    opened = open_services(
        load_settings({}, {"DATABASE_URL": database_url, "SUPPRESSION_PEPPER": "export-test-pepper-0123456789"})
    )
    yield opened
    opened.close()


@pytest.fixture
def folder(tmp_path):
    """Where exports go, apart from the SQLite database."""
    made = tmp_path / "exports"
    made.mkdir()
    return made


def runtime_with(services, *connectors: Connector) -> Runtime:
    return Runtime(config={}, services=services, connectors={connector.name: connector for connector in connectors})


def vendors(**failing: bool) -> list[FakeVendor]:
    return [
        FakeVendor("hubspot", [record("hubspot", "101", properties={"email": JANE, "firstname": "Jane"})]),
        FakeVendor("mailchimp", [record("mailchimp", "m-1", email_address=JANE, tags=[{"id": 1, "name": "vip"}])]),
        FakeVendor("salesforce", [record("salesforce", "003A", Email=JANE)], failing=failing.get("salesforce", False)),
    ]


def seeded(services) -> int:
    """Jane opted out of email in HubSpot (an event, its suppression entry), synced from HubSpot, her opt-out
    pushed to Mailchimp; then her access request. Returns its id."""
    services.ledger.append(
        ConsentEvent("hs-optout-1", "withdrawn", "email", T, "hubspot", "default"),
        email=JANE,
        phone=PHONE,
    )
    with services.engine.begin() as connection:
        person_id = connection.execute(select(persons.c.id)).scalar_one()
        connection.execute(
            contacts.insert().values(
                person_id=person_id,
                source_system="hubspot",
                source_record_id="101",
                jurisdiction="FR",
                audience="consumer",
                is_customer=False,
                kept_fields=json.dumps({"status": "SUBSCRIBED"}),
                updated_at=T,
            )
        )
        connection.execute(
            propagation_jobs.insert().values(
                event_key="hs-optout-1",
                person_id=person_id,
                source_system="hubspot",
                target_system="mailchimp",
                channel="email",
                action="unsubscribe",
                status="done",
                attempts=1,
                next_attempt_at=T,
                received_at=T,
                updated_at=T,
                done_at=T,
            )
        )
    return open_request(services, VENDORS, RightsKind.ACCESS, email=JANE, phone=PHONE, verified_by="reply").id


def exported_column(services, request_id: int):
    with services.engine.connect() as connection:
        return connection.execute(
            select(rights_requests.c.exported).where(rights_requests.c.id == request_id)
        ).scalar_one()


def test_the_json_holds_each_system_under_its_name_and_the_request_is_done(services, folder):
    request_id = seeded(services)
    connectors = vendors()
    output = folder / "jane.json"
    assert show(services.engine, request_id)["status"] == "open"  # not exported yet

    statuses = export_request(runtime_with(services, *connectors), request_id, output)

    assert statuses == dict.fromkeys(["consentry", *VENDORS], "done")
    held = json.loads(output.read_text())
    assert list(held) == ["consentry", *VENDORS]
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    local = held["consentry"]
    assert local["status"] == "done"
    assert local["person"] == {"email": JANE, "phone": PHONE}
    assert [(event["event_key"], event["kind"]) for event in local["events"]] == [("hs-optout-1", "withdrawn")]
    assert local["states"][0]["status"] == "opted_out"
    suppression = {entry["identifier_kind"]: entry for entry in local["suppression"]}
    expected_hash = services.suppression.keyring.digest(JANE).hex()
    assert suppression["email"]["identifier_hash"] == expected_hash
    assert suppression["email"]["channels"] == ["email"]
    assert suppression["email"]["added_on"] == datetime.now(UTC).date().isoformat()
    [job] = local["propagation"]
    assert (job["target_system"], job["action"], job["status"], job["done_at"]) == (
        "mailchimp",
        "unsubscribe",
        "done",
        T.isoformat(),
    )
    [contact] = local["contacts"]
    assert (contact["system"], contact["record_id"], contact["audience"]) == ("hubspot", "101", "consumer")
    assert contact["kept_fields"] == {"status": "SUBSCRIBED"}
    assert local["request"]["id"] == request_id
    assert held["hubspot"] == {
        "status": "done",
        "error": None,
        "records": [
            {"kind": "contact", "record_id": "101", "fields": {"properties": {"email": JANE, "firstname": "Jane"}}}
        ],
    }
    assert held["mailchimp"]["records"][0]["fields"]["email_address"] == JANE
    # each system is asked with the ids of the records synced from it
    assert connectors[0].asked == [DataSubject(email=JANE, phone=PHONE, record_ids=("101",))]
    assert connectors[1].asked == [DataSubject(email=JANE, phone=PHONE, record_ids=())]
    answer = show(services.engine, request_id)
    assert answer["status"] == "done"
    assert answer["systems"] == dict.fromkeys(["consentry", *VENDORS], "done")


def test_the_html_page_is_self_contained_and_escapes_what_the_vendors_hold(services, folder):
    request_id = seeded(services)
    hostile = FakeVendor("hubspot", [record("hubspot", "101", properties={"note": "<script>alert(1)</script>"})])
    output = folder / "jane.html"

    export_request(runtime_with(services, hostile), request_id, output)

    page = output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "properties.note" in page  # nested fields flattened into rows
    assert "<td>None</td>" not in page  # a missing value is an empty cell
    assert "<td>email</td><td>FR_CONSENT_WITHDRAWN</td>" in page  # a suppression entry's channels, as text
    assert '<section id="consentry">' in page
    assert '<section id="hubspot">' in page
    assert "hs-optout-1" in page
    assert JANE in page
    for external in ("<link", "src=", "url(", "@import"):
        assert external not in page


def test_a_failing_system_is_failed_and_the_others_are_exported(services, folder):
    request_id = seeded(services)
    output = folder / "jane.json"

    statuses = export_request(runtime_with(services, *vendors(salesforce=True)), request_id, output)

    assert statuses == {"consentry": "done", "hubspot": "done", "mailchimp": "done", "salesforce": "failed"}
    held = json.loads(output.read_text())
    assert held["salesforce"] == {"status": "failed", "error": "SERVER_ERROR", "records": []}
    assert held["hubspot"]["records"]
    answer = show(services.engine, request_id)
    assert (answer["status"], answer["systems"]["salesforce"]) == ("failed", "failed")

    assert set(export_request(runtime_with(services, *vendors()), request_id, output).values()) == {"done"}
    assert show(services.engine, request_id)["status"] == "done"  # run again once the vendor is back


def test_a_system_that_cannot_export_is_failed_not_left_out(services, folder):
    request_id = seeded(services)
    statuses = export_request(runtime_with(services, SilentVendor({})), request_id, folder / "jane.json")
    assert statuses == {"consentry": "done", "silent": "failed"}
    assert json.loads((folder / "jane.json").read_text())["silent"]["error"] == "EXPORT_NOT_SUPPORTED"


@pytest.mark.parametrize("kind", [RightsKind.ERASURE, RightsKind.OBJECTION])
def test_only_an_access_request_is_exported(services, folder, kind):
    other = open_request(services, [], kind, email=JANE).id
    connectors = vendors()
    with pytest.raises(InvalidInputError, match=f"request {other} is an {kind.value} request"):
        export_request(runtime_with(services, *connectors), other, folder / "jane.json")
    assert list(folder.iterdir()) == []
    assert all(not connector.asked for connector in connectors)
    assert exported_column(services, other) is None


@pytest.mark.parametrize("name", ["jane.json", "jane.csv", "missing/jane.json"])
def test_an_unknown_request_or_a_bad_output_writes_nothing(services, folder, name):
    request_id = seeded(services)
    unknown = request_id + 1 if name == "jane.json" else request_id
    with pytest.raises(InvalidInputError):
        export_request(runtime_with(services, *vendors()), unknown, folder / name)
    assert list(folder.iterdir()) == []
    assert exported_column(services, request_id) is None


def test_a_new_export_replaces_the_file_whole_and_private(services, folder):
    request_id = seeded(services)
    output = folder / "jane.json"
    output.write_text("an older export")
    output.chmod(0o644)
    export_request(runtime_with(services, *vendors()), request_id, output)
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert list(json.loads(output.read_text())) == ["consentry", *VENDORS]
    assert [path.name for path in folder.iterdir()] == ["jane.json"]  # no temporary file left


def test_nothing_of_the_person_is_logged(services, folder, caplog):
    request_id = seeded(services)
    caplog.set_level(logging.DEBUG)
    for name in ("jane.json", "jane.html"):
        export_request(runtime_with(services, *vendors(salesforce=True)), request_id, folder / name)
    assert "salesforce" in caplog.text
    assert "SERVER_ERROR" in caplog.text
    for secret in (JANE, "jane.export", PHONE, "612345678", "Jane"):
        assert secret not in caplog.text


def test_consentrys_section_is_one_snapshot_whatever_lands_while_it_is_read(services, monkeypatch):
    """An opt-out committed between two of the section's reads is in all of it or none: before, each read had its
    own connection, and the suppression entries could show an objection the ledger's events did not."""
    with services.engine.begin() as connection:
        connection.execute(persons.insert().values(email="late@example.com", created_at=datetime.now(UTC)))
    reads_contacts = rights_export._contacts

    def meanwhile(connection, person_id):
        services.suppression.add("email", "late@example.com", reason_code="OBJECTION")  # committed at once
        return reads_contacts(connection, person_id)

    monkeypatch.setattr(rights_export, "_contacts", meanwhile)
    held = rights_export.gather(services, {}, email="late@example.com", phone=None)["consentry"]
    assert held["person"] == {"email": "late@example.com", "phone": None}
    assert held["suppression"] == []  # read after the commit, but in the snapshot taken before it
    assert len(services.suppression.entries_of("email", "late@example.com")) == 1


@pytest.mark.postgres
def test_the_snapshots_isolation_goes_back_to_the_pool_as_it_came(services, database_url):
    """Writers on PostgreSQL stay at "read committed": a connection that served a snapshot is reset on return."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no isolation levels to restore")

    def level(connection):
        return connection.exec_driver_sql("SHOW transaction_isolation").scalar()

    with consistent_reading(services.engine) as connection:
        assert level(connection) == "repeatable read"
    with services.engine.begin() as connection:
        assert level(connection) == "read committed"
