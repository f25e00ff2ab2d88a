"""The Salesforce sandbox refuses what Salesforce refuses, with Salesforce's bodies: collections over 200 records,
all-or-none rollbacks, unknown and read-only fields, bad values and ids, malformed SOQL, the daily API limit with
its `Sforce-Limit-Info` header, unknown API versions and injected faults; query locators behave like Salesforce's."""

import time
from datetime import UTC, datetime

import pytest
import requests

from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, create_app, record_ids
from consentry.connectors.sandbox_kit import ServerThread

LIMIT_BODY = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
TOO_MANY = [
    {
        "message": "record limit reached. cannot submit more than 200 records into this call",
        "errorCode": "EXCEEDED_ID_LIMIT",
    }
]


class Api:
    """Raw REST calls with a session, as a connector makes them."""

    def __init__(self, server, version: str = "v60.0"):
        self.server = server
        self.base = f"{server.url}/services/data/{version}"
        token = requests.post(f"{server.url}/_sandbox/token", timeout=5).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, **options) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        return requests.request(
            method, url, headers={**self.headers, **options.pop("headers", {})}, timeout=30, **options
        )

    def query(self, soql: str, **options) -> requests.Response:
        return self("GET", "/query", params={"q": soql}, **options)


def start(**options):
    app = create_app(**options)
    return app, ServerThread(app).start()


@pytest.fixture
def server():
    app, running = start(page_size=5)
    yield running
    running.stop()
    app.extensions["salesforce_sandbox"].close()


@pytest.fixture
def api(server):
    return Api(server)


def seed(server, **objects) -> dict:
    answer = requests.post(f"{server.url}/_sandbox/seed", json=objects, timeout=60)
    answer.raise_for_status()
    return answer.json()["ids"]


def count(api, soql_object: str = "Contact") -> int:
    return api.query(f"SELECT COUNT() FROM {soql_object}").json()["totalSize"]


# -- sObject Collections --------------------------------------------------------------------------------------------


def test_collections_refuse_more_than_200_records_and_change_nothing(api):
    records = [{"attributes": {"type": "Contact"}, "LastName": f"N{n}"} for n in range(201)]
    for method in ("POST", "PATCH"):
        answer = api(method, "/composite/sobjects", json={"allOrNone": False, "records": records})
        assert (answer.status_code, answer.json()) == (400, TOO_MANY)
    ids = ",".join(["0035g0000000001AAA"] * 201)
    assert api("DELETE", "/composite/sobjects", params={"ids": ids}).json() == TOO_MANY
    assert count(api) == 0
    assert api("POST", "/composite/sobjects", json={"records": records[:200]}).status_code == 200
    assert count(api) == 200


def test_collections_refuse_more_than_10_chunks_of_one_type_and_change_nothing(api):
    alternating = [
        {"attributes": {"type": kind}, "LastName": f"N{n}", **({"Company": "X"} if kind == "Lead" else {})}
        for n, kind in enumerate(["Contact", "Lead"] * 6)
    ]
    answer = api("POST", "/composite/sobjects", json={"records": alternating[:11]})  # 11 chunks
    assert answer.status_code == 400
    assert answer.json()[0]["message"].startswith("Cannot have more than 10 chunks")
    assert count(api) == 0
    assert api("POST", "/composite/sobjects", json={"records": alternating[:10]}).status_code == 200
    grouped = sorted(alternating, key=lambda record: record["attributes"]["type"])  # two chunks
    assert api("POST", "/composite/sobjects", json={"records": grouped}).status_code == 200
    assert (count(api), count(api, "Lead")) == (5 + 6, 5 + 6)


def test_all_or_none_rolls_everything_back_when_one_record_fails(api):
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Good"},
        {"attributes": {"type": "Lead"}, "LastName": "No company"},
    ]
    answer = api("POST", "/composite/sobjects", json={"allOrNone": True, "records": records})
    assert answer.json() == [
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the request was using "
                    "AllOrNone header",
                    "fields": [],
                }
            ],
        },
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [Company]",
                    "fields": ["Company"],
                }
            ],
        },
    ]
    assert count(api) == 0
    partial = api("POST", "/composite/sobjects", json={"records": records}).json()
    assert partial[0]["success"] is True
    assert partial[0]["id"].startswith("003")
    assert partial[1]["success"] is False
    assert count(api) == 1


def test_collection_updates_report_each_record(server, api):
    [live, deleted] = seed(server, Contact=[{"LastName": "Live"}, {"LastName": "Gone"}])["Contact"]
    assert api("DELETE", f"/sobjects/Contact/{deleted}").status_code == 204
    [lead] = seed(server, Lead=[{"LastName": "L", "Company": "C"}])["Lead"]
    records = [
        {"attributes": {"type": "Contact"}, "id": live, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Contact"}, "id": deleted, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Contact"}, "id": lead, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Contact"}, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Contact"}, "id": live, "SystemModstamp": "2020-01-01T00:00:00.000Z"},
    ]
    results = api("PATCH", "/composite/sobjects", json={"records": records}).json()
    assert results[0] == {"id": live, "success": True, "errors": []}
    assert [r["errors"][0]["statusCode"] for r in results[1:]] == [
        "ENTITY_IS_DELETED",
        "MALFORMED_ID",
        "MISSING_ARGUMENT",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    ]
    assert results[2]["errors"][0]["message"] == f"Contact ID: id value of incorrect type: {lead}"
    assert api("GET", f"/sobjects/Contact/{live}").json()["HasOptedOutOfEmail"] is True


def test_a_body_that_cannot_be_read_refuses_the_whole_collection(api):
    unknown = [{"attributes": {"type": "Contact"}, "LastName": "A", "Shoe_Size__c": 42}]
    answer = api("POST", "/composite/sobjects", json={"records": unknown})
    assert answer.status_code == 400
    assert answer.json() == [
        {"message": "No such column 'Shoe_Size__c' on sobject of type Contact", "errorCode": "INVALID_FIELD"}
    ]
    untyped = api("POST", "/composite/sobjects", json={"records": [{"LastName": "A"}]})
    assert untyped.json() == [{"message": "Must send a concrete entity type.", "errorCode": "INVALID_TYPE"}]
    wrong_type = api(
        "POST", "/composite/sobjects", json={"records": [{"attributes": {"type": "Contact"}, "DoNotCall": "yes"}]}
    )
    assert wrong_type.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert count(api) == 0
    [contact] = seed(api.server, Contact=[{"LastName": "A"}])["Contact"]
    not_a_type = [{"attributes": {"type": "email=allowed;sms=forbidden"}, "id": contact, "DoNotCall": True}]
    refused = api("PATCH", "/composite/sobjects", json={"records": not_a_type})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, "INVALID_TYPE")
    assert api("GET", f"/sobjects/Contact/{contact}").json()["DoNotCall"] is False


def test_collection_upsert_delete_and_read(server, api):
    seed(server, Contact=[{"LastName": "Old", "Consentry_Key__c": "k1"}])
    seed(
        server,
        Contact=[{"LastName": "Twin", "Consentry_Key__c": "twin"}, {"LastName": "Twin", "Consentry_Key__c": "twin"}],
    )
    records = [
        {"attributes": {"type": "Contact"}, "Consentry_Key__c": "K1", "DoNotCall": True},
        {"attributes": {"type": "Contact"}, "Consentry_Key__c": "k2", "LastName": "New"},
        {"attributes": {"type": "Contact"}, "Consentry_Key__c": "dup", "LastName": "A"},
        {"attributes": {"type": "Contact"}, "Consentry_Key__c": "DUP", "LastName": "B"},
        {"attributes": {"type": "Contact"}, "Consentry_Key__c": "twin", "LastName": "C"},
    ]
    results = api("PATCH", "/composite/sobjects/Contact/Consentry_Key__c", json={"records": records}).json()
    assert [r.get("created") for r in results[:2]] == [False, True]
    assert [r["errors"][0]["statusCode"] for r in results[2:]] == [
        "DUPLICATE_VALUE",
        "DUPLICATE_VALUE",
        "DUPLICATE_EXTERNAL_ID",
    ]
    ids = [results[0]["id"], results[1]["id"]]
    read = api(
        "GET", "/composite/sobjects/Contact", params={"ids": ",".join(ids), "fields": "LastName,DoNotCall"}
    ).json()
    assert [(r["LastName"], r["DoNotCall"]) for r in read] == [("Old", True), ("New", False)]
    deleted = api("DELETE", "/composite/sobjects", params={"ids": f"{ids[0]},not-an-id"}).json()
    assert deleted[0] == {"id": ids[0], "success": True, "errors": []}
    assert deleted[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert api("GET", "/composite/sobjects/Contact", params={"ids": ids[0], "fields": "Id"}).json() == [None]


# -- single records ---------------------------------------------------------------------------------------------


def test_record_rules_for_fields_values_and_ids(server, api):
    [contact] = seed(server, Contact=[{"LastName": "Rules"}])["Contact"]

    def patch(fields: dict) -> list:
        return api("PATCH", f"/sobjects/Contact/{contact}", json=fields).json()

    assert patch({"Shoe_Size__c": 1}) == [
        {"message": "No such column 'Shoe_Size__c' on sobject of type Contact", "errorCode": "INVALID_FIELD"}
    ]
    assert patch({"SystemModstamp": "2020-01-01T00:00:00Z"})[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert patch({"LastName": None})[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert patch({"FirstName": "x" * 41})[0] == {
        "message": f"First Name: data value too large: {'x' * 41} (max length=40)",
        "errorCode": "STRING_TOO_LONG",
        "fields": ["FirstName"],
    }
    assert patch({"Email": "not an address"})[0]["errorCode"] == "INVALID_EMAIL_ADDRESS"
    assert patch({"IndividualId": "garbage"})[0]["errorCode"] == "MALFORMED_ID"
    assert patch({"IndividualId": contact})[0]["errorCode"] == "MALFORMED_ID"  # a Contact is not an Individual
    assert patch({"IndividualId": record_ids.make("0PK", 999)})[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    person = api("POST", "/sobjects/Individual", json={"LastName": "Person", "HasOptedOutSolicit": True}).json()["id"]
    assert api("PATCH", f"/sobjects/Contact/{contact}", json={"IndividualId": person}).status_code == 204
    consent = {"Name": "Email consent", "PartyId": person, "ContactPointType": "Carrier pigeon"}
    consent |= {"CaptureDate": "2024-03-01T09:00:00Z", "CaptureSource": "Web form"}
    refused = api("POST", "/sobjects/ContactPointTypeConsent", json=consent).json()
    assert refused[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    for required in ("ContactPointType", "CaptureDate", "CaptureSource"):
        missing = {name: value for name, value in consent.items() if name != required}
        refused = api("POST", "/sobjects/ContactPointTypeConsent", json=missing).json()
        assert (refused[0]["errorCode"], refused[0]["fields"]) == ("REQUIRED_FIELD_MISSING", [required])
    created = api("POST", "/sobjects/ContactPointTypeConsent", json={**consent, "ContactPointType": "Email"})
    assert created.status_code == 201
    assert created.json()["id"].startswith("0ZY")
    assert api("GET", "/sobjects/Contact/not-an-id").json() == [
        {
            "message": "Provided external ID field does not exist or is not accessible: not-an-id",
            "errorCode": "NOT_FOUND",
        }
    ]
    assert api("GET", f"/sobjects/Contact/{record_ids.make('003', 999)}").json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    assert api("GET", "/sobjects/Planet/describe").json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    assert (
        api("GET", f"/sobjects/Contact/{contact}", params={"fields": "Email,Nope"}).json()[0]["errorCode"]
        == "INVALID_FIELD"
    )
    assert api("PUT", f"/sobjects/Contact/{contact}").json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_a_reference_to_a_deleted_or_missing_record_is_refused_through_every_write(server, api):
    """A PartyId or IndividualId naming an Individual in the Recycle Bin, or one never created, fails the record
    with Salesforce's save error, through single-record REST and sObject Collections alike; nothing is written."""
    [contact] = seed(server, Contact=[{"LastName": "Linked"}])["Contact"]
    gone, live = seed(server, Individual=[{"LastName": "Gone"}, {"LastName": "Live"}])["Individual"]
    assert api("DELETE", f"/sobjects/Individual/{gone}").status_code == 204
    missing = record_ids.make("0PK", 999)
    row = {"Name": "Email", "ContactPointType": "Email", "CaptureDate": "2024-03-01T09:00:00Z"}
    row |= {"CaptureSource": "Web form", "attributes": {"type": "ContactPointTypeConsent"}}
    refused = {"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id"}
    for party in (gone, missing):
        answer = api("POST", "/composite/sobjects", json={"allOrNone": False, "records": [{**row, "PartyId": party}]})
        assert answer.json() == [{"success": False, "errors": [{**refused, "fields": ["PartyId"]}]}]
        single = api("POST", "/sobjects/ContactPointTypeConsent", json={**row, "PartyId": party, "attributes": None})
        assert single.status_code == 400
        assert single.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
        link = {"attributes": {"type": "Contact"}, "id": contact, "IndividualId": party}
        answer = api("PATCH", "/composite/sobjects", json={"allOrNone": False, "records": [link]})
        assert answer.json()[0]["errors"] == [{**refused, "fields": ["IndividualId"]}]
    assert count(api, "ContactPointTypeConsent") == 0
    assert (
        api.query(f"SELECT IndividualId FROM Contact WHERE Id = '{contact}'").json()["records"][0]["IndividualId"]
        is None
    )
    created = api("POST", "/composite/sobjects", json={"allOrNone": False, "records": [{**row, "PartyId": live}]})
    assert created.json()[0]["success"] is True


def test_an_incremental_query_sees_only_records_changed_since(server, api):
    [a, b] = seed(server, Contact=[{"LastName": "A"}, {"LastName": "B"}])["Contact"]
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    api("PATCH", f"/sobjects/Contact/{b}", json={"HasOptedOutOfFax": True})
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    changed = api.query(
        f"SELECT Id, HasOptedOutOfFax FROM Contact WHERE SystemModstamp > {stamp} ORDER BY SystemModstamp"
    )
    assert [r["Id"] for r in changed.json()["records"]] == [b]
    offset = since.astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    offset = f"{offset[:-2]}:{offset[-2:]}"
    later = api.query(f"SELECT Id FROM Contact WHERE SystemModstamp >= {offset} AND HasOptedOutOfFax = true")
    assert [r["Id"] for r in later.json()["records"]] == [b]
    assert a not in {r["Id"] for r in later.json()["records"]}


@pytest.mark.parametrize(
    ("soql", "code", "reason"),
    [
        ("SELEC Id FROM Contact", "MALFORMED_QUERY", "unexpected token: 'SELEC'"),
        ("SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        (
            "SELECT Id FROM Contact WHERE DoNotCall = true AND Email = 'a' OR Email = 'b'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM Contact LIMIT ten", "MALFORMED_QUERY", "unexpected token: 'ten'"),
        ("SELECT Id FROM Planet", "INVALID_TYPE", "sObject type 'Planet' is not supported."),
        ("SELECT Shoe_Size__c FROM Contact", "INVALID_FIELD", "No such column 'Shoe_Size__c' on entity 'Contact'."),
        ("SELECT Id FROM Contact WHERE DoNotCall = 'true'", "INVALID_QUERY_FILTER_OPERATOR", "must be of type boolean"),
        (
            "SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "type dateTime",
        ),
        ("SELECT Id FROM Contact WHERE Email = 42", "INVALID_QUERY_FILTER_OPERATOR", "should be enclosed in quotes"),
        ("SELECT Id FROM Contact WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: nope"),
    ],
)
def test_soql_errors(api, soql, code, reason):
    answer = api.query(soql)
    assert answer.status_code == 400
    [error] = answer.json()
    assert error["errorCode"] == code
    assert reason in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]
    assert answer.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_the_error_points_at_the_offending_column(api):
    [error] = api.query("SELECT Id, Shoe_Size__c FROM Contact").json()
    assert error["message"].split("\n")[1:4] == [
        "SELECT Id, Shoe_Size__c FROM Contact",
        "           ^",
        "ERROR at Row:1:Column:12",
    ]


# -- query locators -------------------------------------------------------------------------------------------------


def test_query_locators_page_close_and_expire_like_salesforce(server, api):
    seed(server, Contact=[{"LastName": f"L{n:03d}"} for n in range(250)])
    first = api.query("SELECT LastName FROM Contact ORDER BY LastName").json()
    assert len(first["records"]) == 5  # the sandbox's page size
    sized = api.query("SELECT LastName FROM Contact", headers={"Sforce-Query-Options": "batchSize=10"}).json()
    assert len(sized["records"]) == 200  # Salesforce's smallest batch
    last = api("GET", f"{server.url}{sized['nextRecordsUrl']}").json()
    assert (last["done"], len(last["records"]), "nextRecordsUrl" in last) == (True, 50, False)
    again = api("GET", f"{server.url}{sized['nextRecordsUrl']}")
    assert again.json() == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
    opened = [api.query("SELECT Id FROM Contact").json()["nextRecordsUrl"] for _ in range(10)]
    assert api("GET", f"{server.url}{first['nextRecordsUrl']}").status_code == 400  # the 11th released the oldest
    assert api("GET", f"{server.url}{opened[-1]}").json()["records"][0]["attributes"]["type"] == "Contact"


def test_the_org_survives_a_restart_with_a_state_file(tmp_path):
    path = tmp_path / "salesforce.json"
    app, running = start(state_path=path)
    try:
        [first] = seed(running, Contact=[{"LastName": "Kept", "Email": "kept@example.com"}])["Contact"]
        requests.post(f"{running.url}/_sandbox/outbound", json={"url": "http://127.0.0.1:9/hook"}, timeout=5)
    finally:
        running.stop()
        app.extensions["salesforce_sandbox"].close()
    app, running = start(state_path=path)
    try:
        api = Api(running)
        assert api("GET", f"/sobjects/Contact/{first}").json()["Email"] == "kept@example.com"
        [second] = seed(running, Contact=[{"LastName": "New"}])["Contact"]
        assert second != first
        assert requests.get(f"{running.url}/_sandbox/outbound", timeout=5).json()["url"] == "http://127.0.0.1:9/hook"
    finally:
        running.stop()
        app.extensions["salesforce_sandbox"].close()


# -- limits, versions, faults -----------------------------------------------------------------------------------


def test_the_daily_limit_answers_403_and_every_answer_reports_usage():
    app, running = start(daily_limit=3)
    try:
        api = Api(running)
        answers = [api("GET", "/limits") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 403]
        assert [a.headers["Sforce-Limit-Info"] for a in answers] == [
            "api-usage=1/3",
            "api-usage=2/3",
            "api-usage=3/3",
        ] * 1 + ["api-usage=3/3"]
        assert answers[1].json() == {"DailyApiRequests": {"Max": 3, "Remaining": 1}}
        assert answers[3].json() == LIMIT_BODY
        assert api.query("SELECT Id FROM Contact").json() == LIMIT_BODY
        assert requests.get(f"{running.url}/_sandbox/calls", timeout=5).json()["used"] == 3
        token = requests.post(
            f"{running.url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": "salesforce-sandbox-client-secret",
            },
            timeout=5,
        )
        assert token.status_code == 200  # logging in is not an API request
        requests.post(f"{running.url}/_sandbox/limits/reset", timeout=5)
        assert api("GET", "/limits").status_code == 200
    finally:
        running.stop()
        app.extensions["salesforce_sandbox"].close()


def test_api_versions(server, api):
    versions = requests.get(f"{server.url}/services/data", timeout=5).json()
    assert {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"} in versions
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    assert api("GET", f"{server.url}/services/data/v62.0/limits").status_code == 200
    for retired in ("v20.0", "v60.5", "60.0"):
        answer = api("GET", f"{server.url}/services/data/{retired}/limits")
        assert (answer.status_code, answer.json()[0]["errorCode"]) == (404, "NOT_FOUND")


def test_injected_faults_use_salesforce_shapes(server, api):
    requests.post(f"{server.url}/_sandbox/faults", json={"fail_next": 1, "fail_status": 503}, timeout=5)
    unavailable = api("GET", "/limits")
    assert unavailable.status_code == 503
    assert unavailable.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    requests.post(f"{server.url}/_sandbox/faults", json={"fail_next": 1, "fail_status": 429}, timeout=5)
    limited = api("GET", "/limits")
    assert (limited.status_code, limited.json()) == (403, LIMIT_BODY)
    requests.post(f"{server.url}/_sandbox/faults", json={"fail_next": 1, "fail_status": 500}, timeout=5)
    assert api("GET", "/limits").json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert api("GET", "/limits").status_code == 200
