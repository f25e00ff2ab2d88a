"""Bulk API 2.0 ingest jobs in the Salesforce sandbox: the state machine really runs in the background (clients
must poll), uploads are accepted only while Open, and the job fails or refuses as Salesforce's does."""

import csv
import io
import time

import pytest
import requests

from consentry.connectors.salesforce.sandbox import create_app
from consentry.connectors.sandbox_kit import ServerThread

TERMINAL = ("JobComplete", "Failed", "Aborted")


class Bulk:
    def __init__(self, server):
        self.server = server
        self.base = f"{server.url}/services/data/v60.0/jobs/ingest"
        token = requests.post(f"{server.url}/_sandbox/token", timeout=5).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str = "", **options) -> requests.Response:
        headers = {**self.headers, **options.pop("headers", {})}
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **options)

    def create(self, **job) -> dict:
        answer = self.call("POST", json={"contentType": "CSV", "lineEnding": "LF", **job})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def upload(self, job_id: str, data: str) -> requests.Response:
        return self.call("PUT", f"/{job_id}/batches", data=data.encode(), headers={"Content-Type": "text/csv"})

    def close(self, job_id: str) -> requests.Response:
        return self.call("PATCH", f"/{job_id}", json={"state": "UploadComplete"})

    def wait(self, job_id: str, deadline: float = 10.0) -> tuple[dict, list[str]]:
        """Polls until the job ends; the states seen on the way."""
        seen, stop = [], time.monotonic() + deadline
        while time.monotonic() < stop:
            info = self.call("GET", f"/{job_id}").json()
            if not seen or seen[-1] != info["state"]:
                seen.append(info["state"])
            if info["state"] in TERMINAL:
                return info, seen
            time.sleep(0.02)
        raise AssertionError(f"job still {seen[-1]} after {deadline}s")

    def results(self, job_id: str, kind: str) -> list[dict]:
        answer = self.call("GET", f"/{job_id}/{kind}")
        assert answer.headers["Content-Type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(answer.text)))


@pytest.fixture
def server():
    app = create_app(bulk_step=0.15)
    with ServerThread(app) as running:
        yield running
    app.extensions["salesforce_sandbox"].close()


@pytest.fixture
def bulk(server):
    return Bulk(server)


def seed(server, **objects) -> dict:
    answer = requests.post(f"{server.url}/_sandbox/seed", json=objects, timeout=30)
    answer.raise_for_status()
    return answer.json()["ids"]


def test_a_job_goes_open_upload_complete_in_progress_job_complete(bulk):
    job = bulk.create(object="Contact", operation="insert")
    assert job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v60.0/jobs/ingest/{job['id']}/batches"
    assert job["id"].startswith("750")
    assert (
        bulk.upload(job["id"], "LastName,Email,DoNotCall\nA,a@example.com,true\nB,b@example.com,false\n").status_code
        == 201
    )
    closed = bulk.close(job["id"]).json()
    assert closed["state"] == "UploadComplete"
    assert "contentUrl" not in closed
    info, seen = bulk.wait(job["id"])
    assert seen[0] in ("UploadComplete", "InProgress")  # processing is not instantaneous
    assert seen[-1] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"], info["jobType"]) == (2, 0, "V2Ingest")
    rows = bulk.results(job["id"], "successfulResults")
    assert [(r["sf__Created"], r["Email"], r["DoNotCall"]) for r in rows] == [
        ("true", "a@example.com", "true"),
        ("true", "b@example.com", "false"),
    ]
    assert all(r["sf__Id"].startswith("003") for r in rows)
    assert bulk.results(job["id"], "failedResults") == []
    assert bulk.upload(job["id"], "LastName\nC\n").status_code == 409  # only an Open job takes data
    assert [j["id"] for j in bulk.call("GET").json()["records"]] == [job["id"]]


def test_row_errors_land_in_failed_results(server, bulk):
    [contact, deleted] = seed(server, Contact=[{"LastName": "Here"}, {"LastName": "Gone"}])["Contact"]
    requests.delete(f"{server.url}/services/data/v60.0/sobjects/Contact/{deleted}", headers=bulk.headers, timeout=5)
    job = bulk.create(object="Contact", operation="update")
    data = (
        "Id,HasOptedOutOfEmail,Email\n"
        f"{contact},true,\n"
        f"{deleted},true,\n"
        "not-an-id,true,\n"
        ",true,\n"
        f"{contact},maybe,\n"
        f"{contact},,broken\n"
    )
    bulk.upload(job["id"], data)
    bulk.close(job["id"])
    info, _ = bulk.wait(job["id"])
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 6, 5)
    errors = [row["sf__Error"] for row in bulk.results(job["id"], "failedResults")]
    assert errors == [
        "ENTITY_IS_DELETED:entity is deleted: --",
        "MALFORMED_ID:Contact ID: id value of incorrect type: not-an-id:Id --",
        "MISSING_ARGUMENT:Id not specified in an update call: --",
        "INVALID_FIELD:'maybe' is not a valid value for the type xsd:boolean:HasOptedOutOfEmail --",
        "INVALID_EMAIL_ADDRESS:Email: invalid email address: broken:Email --",
    ]
    record = requests.get(
        f"{server.url}/services/data/v60.0/sobjects/Contact/{contact}", headers=bulk.headers, timeout=5
    )
    assert record.json()["HasOptedOutOfEmail"] is True
    assert record.json()["Email"] is None  # an empty cell leaves the field alone


def test_an_unknown_column_or_the_wrong_line_ending_fails_the_job(bulk):
    job = bulk.create(object="Lead", operation="insert")
    bulk.upload(job["id"], "LastName,Company,Shoe_Size__c\nA,B,42\n")
    bulk.close(job["id"])
    info, _ = bulk.wait(job["id"])
    assert (info["state"], info["errorMessage"]) == ("Failed", "InvalidBatch : Field name not found : Shoe_Size__c")
    assert [r["LastName"] for r in bulk.results(job["id"], "unprocessedrecords")] == ["A"]
    crlf = bulk.create(object="Lead", operation="insert", lineEnding="LF")
    bulk.upload(crlf["id"], "LastName,Company\r\nA,B\r\n")
    bulk.close(crlf["id"])
    info, _ = bulk.wait(crlf["id"])
    assert (
        info["errorMessage"]
        == "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
    )
    piped = bulk.create(object="Lead", operation="insert", lineEnding="CRLF", columnDelimiter="PIPE")
    bulk.upload(piped["id"], "LastName|Company\r\nA|B, Inc.\r\n")
    bulk.close(piped["id"])
    info, _ = bulk.wait(piped["id"])
    assert (info["state"], info["numberRecordsFailed"]) == ("JobComplete", 0)
    assert bulk.results(piped["id"], "successfulResults")[0]["Company"] == "B, Inc."


def test_upsert_by_external_id_creates_and_updates(server, bulk):
    seed(server, Contact=[{"LastName": "Old", "Consentry_Key__c": "k1"}])
    seed(server, Contact=[{"LastName": "T", "Consentry_Key__c": "twin"}, {"LastName": "T", "Consentry_Key__c": "twin"}])
    job = bulk.create(object="Contact", operation="upsert", externalIdFieldName="Consentry_Key__c")
    bulk.upload(job["id"], "Consentry_Key__c,LastName\nK1,Renamed\nk2,New\nk2,Newer\ntwin,X\n,Nobody\n")
    bulk.close(job["id"])
    info, _ = bulk.wait(job["id"])
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (5, 2)
    created = [(r["Consentry_Key__c"], r["sf__Created"]) for r in bulk.results(job["id"], "successfulResults")]
    assert created == [("K1", "false"), ("k2", "true"), ("k2", "false")]
    codes = [r["sf__Error"].split(":")[0] for r in bulk.results(job["id"], "failedResults")]
    assert codes == ["DUPLICATE_EXTERNAL_ID", "MISSING_ARGUMENT"]


def test_job_requests_refused_like_salesforce(bulk):
    missing = bulk.call("POST", json={"object": "Contact", "operation": "upsert", "contentType": "CSV"})
    assert (missing.status_code, missing.json()[0]["errorCode"]) == (400, "INVALIDJOB")
    not_external = bulk.call("POST", json={"object": "Contact", "operation": "upsert", "externalIdFieldName": "Email"})
    assert not_external.json()[0]["errorCode"] == "INVALIDJOB"
    assert bulk.call("POST", json={"object": "Planet", "operation": "insert"}).status_code == 400
    assert bulk.call("POST", json={"object": "Contact", "operation": "merge"}).status_code == 400
    assert bulk.call("POST", json={"object": "Contact", "operation": "insert", "lineEnding": "CR"}).status_code == 400

    job = bulk.create(object="Contact", operation="insert")
    refused_delete = bulk.call("DELETE", f"/{job['id']}")
    assert (refused_delete.status_code, refused_delete.json()[0]["errorCode"]) == (400, "INVALIDJOBSTATE")
    bulk.upload(job["id"], "LastName\nA\n")
    bulk.upload(job["id"], "LastName\nB\n")
    twice = bulk.close(job["id"])
    assert (twice.status_code, twice.json()[0]["errorCode"]) == (400, "INVALIDJOB")
    assert "Found multiple contents for job" in twice.json()[0]["message"]
    aborted = bulk.call("PATCH", f"/{job['id']}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    assert bulk.close(job["id"]).json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert bulk.call("DELETE", f"/{job['id']}").status_code == 204
    gone = bulk.call("GET", f"/{job['id']}")
    assert (gone.status_code, gone.json()[0]["errorCode"]) == (404, "NOT_FOUND")


def test_bulk_delete_leaves_tombstones_for_query_all(server, bulk):
    [a, b] = seed(server, Lead=[{"LastName": "A", "Company": "C"}, {"LastName": "B", "Company": "C"}])["Lead"]
    job = bulk.create(object="Lead", operation="delete")
    bulk.upload(job["id"], f"Id\n{a}\n")
    bulk.close(job["id"])
    assert bulk.wait(job["id"])[0]["numberRecordsFailed"] == 0
    api = f"{server.url}/services/data/v60.0"
    live = requests.get(f"{api}/query", params={"q": "SELECT Id FROM Lead"}, headers=bulk.headers, timeout=5)
    assert [r["Id"] for r in live.json()["records"]] == [b]
    everything = requests.get(
        f"{api}/queryAll",
        params={"q": "SELECT Id, IsDeleted FROM Lead ORDER BY IsDeleted"},
        headers=bulk.headers,
        timeout=5,
    )
    assert [(r["Id"], r["IsDeleted"]) for r in everything.json()["records"]] == [(b, False), (a, True)]
