"""The Salesforce sandbox answers the official-style client, simple-salesforce 1.12, over real HTTP: queries with
query locators, Contact and Lead rows, upsert by external id, Bulk API 2.0 jobs, describe and limits, and logins
by JWT bearer and client credentials with the client's own session refresh.

simple-salesforce always builds https:// URLs on *.salesforce.com or the instance host; the `loopback` session
(conftest) carries those requests to the sandbox over http on 127.0.0.1.
"""

import csv
import datetime as dt
import io
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from consentry.connectors.sandbox_kit import ServerThread


@pytest.fixture(scope="module")
def key_and_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consentry-sandbox-test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def server(key_and_certificate):
    app = create_app(page_size=5, bulk_step=0.05, certificate_pem=key_and_certificate[1])
    with ServerThread(app) as running:
        yield running
    app.extensions["salesforce_sandbox"].close()


def seed(server, **objects):
    answer = requests.post(f"{server.url}/_sandbox/seed", json=objects, timeout=30)
    answer.raise_for_status()
    return answer.json()["ids"]


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_query_pages_follow_next_records_url_and_query_all_gathers_them(server, sf):
    seed(server, Contact=[{"LastName": f"P{n:02d}", "Email": f"p{n:02d}@example.com"} for n in range(12)])
    first = sf.query("SELECT Id, Email FROM Contact ORDER BY Email")
    assert sf.sf_version == "59.0"  # the client's default version is served
    assert (first["totalSize"], first["done"], len(first["records"])) == (12, False, 5)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-5")
    record = first["records"][0]
    assert list(record) == ["attributes", "Id", "Email"]
    assert record["attributes"] == {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{record['Id']}"}
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert [r["Email"] for r in second["records"]] == [f"p{n:02d}@example.com" for n in range(5, 10)]
    everything = sf.query_all("SELECT Email FROM Contact WHERE Email LIKE 'P1%' OR LastName = 'p03'")
    assert sorted(r["Email"] for r in everything["records"]) == [
        "p03@example.com",
        "p10@example.com",
        "p11@example.com",
    ]
    assert everything["done"] is True


def test_contacts_and_leads_are_created_read_updated_and_deleted(sf):
    created = sf.Contact.create({"LastName": "Doe", "FirstName": "Jane", "Email": "jane@example.com"})
    assert created["success"] is True
    assert created["id"].startswith("003")
    assert len(created["id"]) == 18
    before = sf.Contact.get(created["id"])
    assert before["Name"] == "Jane Doe"
    assert before["HasOptedOutOfEmail"] is False
    assert sf.Contact.update(created["id"], {"DoNotCall": True, "Consentry_Status__c": "email=allowed"}) == 204
    after = sf.Contact.get(created["id"][:15])  # the 15-character form names the same record
    assert after["DoNotCall"] is True
    assert after["SystemModstamp"] > before["SystemModstamp"]
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Lead.create({"LastName": "Lead"})
    assert missing.value.content == [
        {
            "message": "Required fields are missing: [Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["Company"],
        }
    ]
    lead = sf.Lead.create({"LastName": "Lead", "Company": "Example SA"})
    assert lead["id"].startswith("00Q")
    assert sf.Lead.get(lead["id"])["Status"] == "Open - Not Contacted"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Contact.get(created["id"])
    assert gone.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as wrong_object:
        sf.Contact.get(lead["id"])
    assert wrong_object.value.content[0]["errorCode"] == "NOT_FOUND"


def test_unknown_fields_are_refused_as_salesforce_refuses_them(sf):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.create({"LastName": "X", "Favourite_Colour__c": "blue"})
    assert refused.value.content == [
        {"message": "No such column 'Favourite_Colour__c' on sobject of type Contact", "errorCode": "INVALID_FIELD"}
    ]
    with pytest.raises(SalesforceMalformedRequest) as query:
        sf.query("SELECT Id, Favourite_Colour__c FROM Contact")
    assert query.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Favourite_Colour__c' on entity 'Contact'" in query.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELEC Id FROM Contact")
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_upsert_by_external_id_creates_updates_and_reports_several_matches(server, sf, loopback):
    assert sf.Contact.upsert("Consentry_Key__c/key-1", {"LastName": "Key"}) == 201
    updated = sf.Contact.upsert("Consentry_Key__c/key-1", {"DoNotCall": True}, raw_response=True)
    assert updated.status_code == 200
    assert updated.json()["created"] is False
    found = sf.Contact.get_by_custom_id("Consentry_Key__c", "KEY-1")  # external ids ignore case by default
    assert (found["LastName"], found["DoNotCall"]) == ("Key", True)
    token = sf.session_id
    old = Salesforce(instance_url=server.url, session_id=token, session=loopback(server), version="45.0")
    assert old.Contact.upsert("Consentry_Key__c/key-1", {"LastName": "Old"}) == 204  # before API 46.0
    seed(server, Contact=[{"LastName": "A", "Consentry_Key__c": "twin"}, {"LastName": "B", "Consentry_Key__c": "twin"}])
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Contact.upsert("Consentry_Key__c/twin", {"LastName": "C"})
    assert len(several.value.content) == 2
    assert all(url.startswith("/services/data/v59.0/sobjects/Contact/003") for url in several.value.content)
    with pytest.raises(SalesforceResourceNotFound) as not_external:
        sf.Contact.upsert("Email/x@example.com", {"LastName": "C"})
    assert not_external.value.content[0]["message"].startswith("Provided external ID field does not exist")


def test_bulk2_insert_upsert_and_update_with_their_results(sf):
    [inserted] = sf.bulk2.Contact.insert(
        records=[{"LastName": f"Bulk{n}", "Email": f"b{n}@example.com"} for n in range(3)], wait=0.05
    )
    assert (inserted["numberRecordsProcessed"], inserted["numberRecordsFailed"]) == (3, 0)
    created = rows(sf.bulk2.Contact.get_successful_records(inserted["job_id"]))
    assert [row["sf__Created"] for row in created] == ["true"] * 3
    assert {row["Email"] for row in created} == {"b0@example.com", "b1@example.com", "b2@example.com"}

    sf.Contact.upsert("Consentry_Key__c/existing", {"LastName": "Existing"})
    [upserted] = sf.bulk2.Contact.upsert(
        records=[
            {"Consentry_Key__c": "existing", "LastName": "Renamed"},
            {"Consentry_Key__c": "fresh", "LastName": "Fresh"},
            {"Consentry_Key__c": "nameless", "LastName": ""},
        ],
        external_id_field="Consentry_Key__c",
        wait=0.05,
    )
    assert (upserted["numberRecordsProcessed"], upserted["numberRecordsFailed"]) == (3, 1)
    succeeded = {
        row["Consentry_Key__c"]: row["sf__Created"]
        for row in rows(sf.bulk2.Contact.get_successful_records(upserted["job_id"]))
    }
    assert succeeded == {"existing": "false", "fresh": "true"}
    [failed] = rows(sf.bulk2.Contact.get_failed_records(upserted["job_id"]))
    assert failed["sf__Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"

    target = created[0]["sf__Id"]
    [update] = sf.bulk2.Contact.update(records=[{"Id": target, "HasOptedOutOfEmail": "true"}], wait=0.05)
    assert update["numberRecordsFailed"] == 0
    assert sf.Contact.get(target)["HasOptedOutOfEmail"] is True


def test_describe_limits_and_the_usage_header(sf):
    fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    for name in (
        "Id",
        "Email",
        "HasOptedOutOfEmail",
        "DoNotCall",
        "HasOptedOutOfFax",
        "IndividualId",
        "SystemModstamp",
    ):
        assert name in fields
    assert fields["Consentry_Key__c"]["externalId"] is True
    assert fields["SystemModstamp"]["updateable"] is False
    assert fields["IndividualId"]["referenceTo"] == ["Individual"]
    company = next(f for f in sf.Lead.describe()["fields"] if f["name"] == "Company")
    assert company["nillable"] is False
    assert sf.Individual.describe()["keyPrefix"] == "0PK"
    consent = {f["name"]: f for f in sf.ContactPointTypeConsent.describe()["fields"]}
    assert [v["value"] for v in consent["ContactPointType"]["picklistValues"]] == [
        "Email",
        "MailingAddress",
        "Phone",
        "Social",
        "Web",
    ]
    limits = sf.limits()["DailyApiRequests"]
    assert limits["Max"] == 15000
    assert limits["Remaining"] == 15000 - 5  # four describes and this call
    assert sf.api_usage["api-usage"].used == 5
    assert sf.api_usage["api-usage"].total == 15000


def test_jwt_bearer_login_and_refresh_after_the_session_expires(server, key_and_certificate, loopback):
    sf = Salesforce(
        username="integration@consentry.example",
        consumer_key=DEFAULT_CLIENT_ID,
        privatekey=key_and_certificate[0],
        session=loopback(server),
    )
    assert sf.sf_instance == urlsplit(server.url).netloc
    sf.Contact.create({"LastName": "Before"})
    first_session = sf.session_id
    requests.post(f"{server.url}/_sandbox/tokens/expire", timeout=5).raise_for_status()
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 1  # 401 INVALID_SESSION_ID, new JWT login, retried
    assert sf.session_id != first_session


def test_client_credentials_login_with_http_basic_as_simple_salesforce_sends_it(server, loopback):
    sf = Salesforce(
        consumer_key=DEFAULT_CLIENT_ID,
        consumer_secret=DEFAULT_CLIENT_SECRET,
        domain="consentry-sandbox.my",
        session=loopback(server),
    )
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
