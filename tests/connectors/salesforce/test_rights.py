"""The Salesforce connector's rights requests against the sandbox: an erasure marks the person's Individuals
"Forget this Individual" and deletes their Contacts and Leads, hard when the integration user may and into the
Recycle Bin otherwise; an export gives every field of each record; an Individual marked in Salesforce comes back
through its outbound message as an erasure event."""

import re
import threading
import time

import pytest
import requests
from flask import Flask, request

from consentry.connectors.base import Capability, DataSubject
from consentry.connectors.salesforce import outbound
from consentry.connectors.salesforce.rights import deleted_ids, hard_deleted
from consentry.connectors.salesforce.sandbox import DEFAULT_ORG_ID, erase_in_vendor, holds
from consentry.connectors.sandbox_kit import ServerThread, set_faults
from consentry.sdk.consent_state import ALL_CHANNELS, EventKind
from consentry.sdk.errors import ConnectorError
from consentry.sdk.webhooks import WebhookRequest


def seed(sandbox, **objects) -> dict[str, list[str]]:
    answer = requests.post(f"{sandbox.url}/_sandbox/seed", json=objects, timeout=10)
    answer.raise_for_status()
    return answer.json()["ids"]


def records(sandbox, *, deleted=False) -> dict[str, dict]:
    query = "?deleted=true" if deleted else ""
    rows = requests.get(f"{sandbox.url}/_sandbox/records{query}", timeout=10).json()["records"]
    return {row["Id"]: row for row in rows}


def allow_hard_delete(sandbox) -> None:
    requests.post(f"{sandbox.url}/_sandbox/settings", json={"bulk_api_hard_delete": True}, timeout=5)


def job_creations(sandbox) -> int:
    calls = requests.get(f"{sandbox.url}/_sandbox/calls", timeout=5).json()["calls"]
    return sum(count for name, count in calls.items() if name.startswith("POST") and name.endswith("/jobs/ingest"))


def test_the_connector_declares_both_rights(make_connector):
    assert {Capability.ERASE_PEOPLE, Capability.EXPORT_PEOPLE} <= make_connector().capabilities


def test_without_the_permission_records_go_to_the_recycle_bin_and_the_refusal_is_remembered(sandbox, make_connector):
    ids = seed(
        sandbox,
        Contact=[{"LastName": "A", "Email": "first@example.com"}, {"LastName": "B", "Email": "second@example.com"}],
        Lead=[{"LastName": "A", "Company": "Example SA", "Email": "FIRST@example.com"}],
    )
    connector = make_connector()
    report = connector.erase_person(DataSubject(email="first@example.com"))
    assert (report.method, sorted(report.deleted), report.forgotten) == (
        "recycle_bin",
        sorted([ids["Contact"][0], ids["Lead"][0]]),
        0,
    )
    in_bin = records(sandbox, deleted=True)
    assert all(in_bin[i]["IsDeleted"] for i in report.deleted)  # queryAll still reads them for 15 days
    assert not holds(sandbox.url, "first@example.com")
    assert job_creations(sandbox) == 1
    connector.erase_person(DataSubject(email="second@example.com"))
    assert job_creations(sandbox) == 1  # the FEATURENOTENABLED answer is not asked again
    assert records(sandbox, deleted=True)[ids["Contact"][1]]["IsDeleted"]


def test_with_the_permission_records_are_hard_deleted(sandbox, make_connector):
    allow_hard_delete(sandbox)
    ids = seed(
        sandbox,
        Contact=[{"LastName": "A", "Email": "hard@example.com"}, {"LastName": "K", "Email": "kept@example.com"}],
        Lead=[{"LastName": "A", "Company": "Example SA", "Email": "hard@example.com"}],
    )
    report = make_connector().erase_person(DataSubject(email="hard@example.com"))
    assert (report.method, sorted(report.deleted)) == ("hard_delete", sorted([ids["Contact"][0], ids["Lead"][0]]))
    remaining = records(sandbox, deleted=True)
    assert set(remaining) == {ids["Contact"][1]}  # nothing left in the Recycle Bin either
    assert requests.get(f"{sandbox.url}/_sandbox/recycle-bin", timeout=5).json() == {"records": []}


def test_records_are_found_by_phone_and_by_synced_id(sandbox, make_connector):
    ids = seed(
        sandbox,
        Contact=[
            {"LastName": "Phone", "MobilePhone": "+33612345678"},
            {"LastName": "Moved", "Email": "new.address@example.com"},
            {"LastName": "Other", "Phone": "+33600000000"},
        ],
    )
    connector = make_connector()
    by_phone = connector.erase_person(DataSubject(phone="+33612345678"))
    assert by_phone.deleted == [ids["Contact"][0]]
    by_id = connector.erase_person(DataSubject(email="old.address@example.com", record_ids=(ids["Contact"][1],)))
    assert by_id.deleted == [ids["Contact"][1]]
    assert set(records(sandbox)) == {ids["Contact"][2]}
    assert connector.erase_person(DataSubject(record_ids=("00Q000000000001", "not an id"))).method == "nothing_found"


def test_with_consent_records_the_individual_is_marked_and_kept(sandbox, make_connector):
    [individual] = seed(sandbox, Individual=[{"LastName": "Doe"}])["Individual"]
    ids = seed(sandbox, Contact=[{"LastName": "Doe", "Email": "marked@example.com", "IndividualId": individual}])
    report = make_connector(consent_records="individual").erase_person(DataSubject(email="marked@example.com"))
    assert report.forgotten == 1
    assert report.deleted == [ids["Contact"][0], individual]  # the Individual names the echo of its marking
    kept = records(sandbox)[individual]
    assert kept["ShouldForget"] is True
    assert ids["Contact"][0] not in records(sandbox)


def test_an_export_gives_every_described_field_of_each_record(sandbox, make_connector):
    [individual] = seed(sandbox, Individual=[{"LastName": "Doe", "BirthDate": "1980-02-03"}])["Individual"]
    ids = seed(
        sandbox,
        Contact=[{"LastName": "Doe", "Email": "me@example.com", "MailingCountry": "FR", "IndividualId": individual}],
        Lead=[{"LastName": "Doe", "Company": "Example SA", "Email": "me@example.com"}],
    )
    connector = make_connector(consent_records="individual")
    exported = {(r.kind, r.record_id): r for r in connector.export_person(DataSubject(email="me@example.com"))}
    assert set(exported) == {("contact", ids["Contact"][0]), ("lead", ids["Lead"][0]), ("individual", individual)}
    describe = requests.post(f"{sandbox.url}/_sandbox/token", timeout=5).json()
    fields = requests.get(
        f"{sandbox.url}/services/data/v60.0/sobjects/Contact/describe",
        headers={"Authorization": f"Bearer {describe['access_token']}"},
        timeout=5,
    ).json()["fields"]
    contact = exported[("contact", ids["Contact"][0])].fields
    assert list(contact) == [field["name"] for field in fields]
    assert (contact["MailingCountry"], contact["Name"], contact["IsDeleted"]) == ("FR", "Doe", False)
    assert exported[("lead", ids["Lead"][0])].fields["Company"] == "Example SA"
    assert exported[("individual", individual)].fields["BirthDate"] == "1980-02-03"
    without_consent = make_connector().export_person(DataSubject(email="me@example.com"))
    assert {r.kind for r in without_consent} == {"contact", "lead"}


def test_a_refused_deletion_fails_the_erasure_and_a_record_already_gone_does_not():
    assert deleted_ids(
        [
            {"id": "003000000000001AAA", "success": True, "errors": []},
            {"id": None, "success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "gone"}]},
        ]
    ) == ["003000000000001AAA"]
    with pytest.raises(ConnectorError) as refused:
        deleted_ids([{"id": None, "success": False, "errors": [{"statusCode": "DELETE_FAILED", "message": "x"}]}])
    assert (refused.value.code, refused.value.retryable) == ("DELETE_FAILED", False)
    with pytest.raises(ConnectorError) as busy:
        deleted_ids([{"id": None, "success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": ""}]}])
    assert busy.value.retryable


def test_an_erasure_reports_every_api_request_the_sandbox_received(sandbox, received, make_connector):
    seed(
        sandbox,
        Contact=[{"LastName": "A", "Email": "counted@example.com"}],
        Lead=[{"LastName": "A", "Company": "Example SA", "Email": "counted@example.com"}],
    )
    connector = make_connector()
    mark = len(received.requests)
    report = connector.erase_person(DataSubject(email="counted@example.com"))
    sent = received.since(mark)
    assert report.method == "recycle_bin"
    assert sent[0] == ("POST", "/services/oauth2/token")  # the first login: an OAuth request, not an API request
    assert "/oauth2/" not in "".join(path for _, path in sent[1:])
    assert report.calls == len(sent) - 1 == 4  # two look-ups, the refused hardDelete job, one delete
    mark = len(received.requests)
    nobody = connector.erase_person(DataSubject(email="counted@example.com"))
    assert (nobody.method, nobody.calls) == ("nothing_found", len(received.since(mark))) == ("nothing_found", 2)


def test_a_hard_delete_erasure_counts_its_retries_and_every_poll(sandbox, received, make_connector):
    allow_hard_delete(sandbox)
    [individual] = seed(sandbox, Individual=[{"LastName": "Doe"}])["Individual"]
    seed(
        sandbox,
        Contact=[{"LastName": "Doe", "Email": "polled@example.com", "IndividualId": individual}],
        Lead=[{"LastName": "Doe", "Company": "Example SA", "Email": "polled@example.com"}],
    )
    connector = make_connector(consent_records="individual")
    connector.erase_person(DataSubject(email="stranger@example.com"))  # logged in from here on
    set_faults(sandbox.url, fail_next=1, fail_status=503)  # the first look-up is answered 503, then retried
    mark = len(received.requests)
    report = connector.erase_person(DataSubject(email="polled@example.com"))
    sent = received.since(mark)
    assert (report.method, report.forgotten) == ("hard_delete", 1)
    assert report.calls == len(sent)
    assert all(path.startswith("/services/data/") for _, path in sent)
    polls = [path for method, path in sent if method == "GET" and re.search(r"/jobs/ingest/\w+$", path)]
    assert len(polls) >= 2  # one job per object, each polled until it ends
    assert report.calls == 2 + 1 + 1 + 2 * 3 + len(polls)  # look-ups (one retried), the marking, two jobs


def test_a_record_deleted_between_the_look_up_and_the_hard_delete_is_no_failure(
    sandbox_app, sandbox, received, make_connector
):
    allow_hard_delete(sandbox)
    erased, binned, purged = seed(
        sandbox, Contact=[{"LastName": name, "Email": "raced@example.com"} for name in ("A", "B", "C")]
    )["Contact"]
    org = sandbox_app.extensions["salesforce_sandbox"].org
    state = sandbox_app.extensions["salesforce_sandbox"].state

    def someone_deletes(method: str, path: str) -> None:
        """As the hardDelete job is created: a user deletes one record (Recycle Bin), another is purged."""
        if method != "POST" or not path.endswith("/jobs/ingest"):
            return
        with state.lock:
            org.delete(org.get(binned))
            org.delete(org.get(purged), hard=True)

    received.hooks.append(someone_deletes)
    report = make_connector().erase_person(DataSubject(email="raced@example.com"))
    assert (report.method, report.deleted) == ("hard_delete", [erased])  # only what this erasure deleted
    assert report.in_recycle_bin == 1  # the user's delete: said, since Salesforce still holds it for 15 days
    assert not holds(sandbox.url, "raced@example.com")
    assert set(records(sandbox, deleted=True)) == {binned}  # the user's own delete waits in the Recycle Bin


@pytest.mark.parametrize("hard", [True, False], ids=["hard_delete", "recycle_bin"])
def test_a_row_that_could_not_be_deleted_fails_the_erasure_until_it_can_be(sandbox, make_connector, hard):
    if hard:
        allow_hard_delete(sandbox)
    held, free = seed(sandbox, Contact=[{"LastName": n, "Email": "held@example.com"} for n in ("A", "B")])["Contact"]
    requests.post(f"{sandbox.url}/_sandbox/locks", json={"ids": [held]}, timeout=5).raise_for_status()
    connector = make_connector()
    with pytest.raises(ConnectorError) as busy:
        connector.erase_person(DataSubject(email="held@example.com"))
    assert (busy.value.code, busy.value.retryable) == ("UNABLE_TO_LOCK_ROW", True)
    assert "@" not in str(busy.value)
    assert held not in str(busy.value)
    assert held in records(sandbox)  # not erased, and not reported as erased
    assert free not in records(sandbox)  # each row on its own: the other one went, so the retry finds one
    requests.post(f"{sandbox.url}/_sandbox/locks", json={"ids": [held], "locked": False}, timeout=5)
    retried = connector.erase_person(DataSubject(email="held@example.com"))
    assert (retried.method, retried.deleted) == ("hard_delete" if hard else "recycle_bin", [held])
    assert not holds(sandbox.url, "held@example.com")


@pytest.mark.parametrize("code", ["INSUFFICIENT_ACCESS", "API_DISABLED_FOR_ORG", "INVALIDJOB"])
def test_only_the_missing_permission_falls_back_to_the_recycle_bin(sandbox, make_connector, monkeypatch, code):
    """FEATURENOTENABLED is the documented answer without "Bulk API Hard Delete" (see the sandbox's `bulk`): any
    other refusal of the job fails the erasure instead of deleting into the Recycle Bin and calling it done."""
    [contact] = seed(sandbox, Contact=[{"LastName": "A", "Email": "refused@example.com"}])["Contact"]
    connector = make_connector()

    def refused(records, operation):
        raise ConnectorError(f"salesforce: {code} (400)", status=400, code=code)

    monkeypatch.setattr(connector, "_bulk", refused)
    with pytest.raises(ConnectorError) as error:
        connector.erase_person(DataSubject(email="refused@example.com"))
    assert error.value.code == code
    assert contact in records(sandbox)  # not deleted into the Recycle Bin either
    assert connector._may_hard_delete is None  # nothing learnt: the next erasure asks again


def test_hard_delete_rows_already_gone_are_skipped_and_others_fail():
    ids = ["003000000000001AAA", "003000000000002AAA", "003000000000003AAA"]
    assert hard_deleted(ids, [(1, "ENTITY_IS_DELETED"), (2, "INVALID_CROSS_REFERENCE_KEY")]) == ([ids[0]], 1)
    with pytest.raises(ConnectorError) as refused:
        hard_deleted(ids, [(1, "ENTITY_IS_DELETED"), (0, "DELETE_FAILED")])
    assert (refused.value.code, refused.value.retryable) == ("DELETE_FAILED", False)
    with pytest.raises(ConnectorError):  # a gone row that names no record sent: which one is unknown
        hard_deleted(ids, [(-1, "ENTITY_IS_DELETED")])


class Receiver:
    """An endpoint for the org's outbound messages that keeps each body and acknowledges it."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", "hook", self.hook, methods=["POST"])

    def hook(self):
        with self.lock:
            self.bodies.append(request.get_data())
        return outbound.ACK, 200, {"Content-Type": "text/xml; charset=utf-8"}

    def wait_for(self, count: int) -> list[bytes]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.bodies) >= count:
                    return list(self.bodies)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.bodies)} outbound messages, expected {count}")


def test_an_individual_forgotten_in_salesforce_arrives_as_an_erasure(sandbox, make_connector):
    receiver = Receiver()
    connector = make_connector(consent_records="individual")
    with ServerThread(receiver.app) as endpoint:
        requests.post(f"{sandbox.url}/_sandbox/outbound", json={"url": f"{endpoint.url}/hook"}, timeout=5)
        seed(sandbox, Contact=[{"LastName": "Doe", "Email": "forget.me@example.com"}])
        erase_in_vendor(sandbox.url, "forget.me@example.com")
        [body] = receiver.wait_for(1)
    individual = next(r["Id"] for r in records(sandbox).values() if r["attributes"]["type"] == "Individual")
    delivery = WebhookRequest(
        "POST", "https://consentry.example/webhooks/salesforce", body, {}, {"token": connector.config["webhook_token"]}
    )
    [known] = connector.receive_webhook(delivery, known=lambda events: {individual})
    assert (known.erasure, known.kind, known.channel) == (True, EventKind.OBJECTED, ALL_CHANNELS)
    assert (known.record_id, known.email, known.vendor_type) == (individual, None, "Individual.ShouldForget")
    assert known.event_key.startswith("salesforce:04l")
    [stranger] = connector.receive_webhook(delivery)  # the message carries no address: the linked Contact has one
    assert (stranger.record_id, stranger.email, stranger.erasure) == (individual, "forget.me@example.com", True)
    set_faults(sandbox.url, fail_next=50, fail_status=503)
    with pytest.raises(ConnectorError):  # the delivery then gets a 503, and Salesforce sends it again
        connector.receive_webhook(delivery)


def test_an_individual_notification_without_should_forget_is_no_event(make_connector):
    body = outbound.envelope(
        DEFAULT_ORG_ID,
        "04k000000000003",
        [("04l000000000009", "Individual", {"Id": "0PK000000000001AAA", "ShouldForget": False})],
    )
    assert make_connector().parse_webhook(WebhookRequest("POST", "https://x.example/", body, {}, {})) == []
