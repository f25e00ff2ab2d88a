"""The HubSpot sandbox refuses what HubSpot refuses, with HubSpot's statuses, bodies and headers: property rules,
batch limits and multi-status, search, GDPR deletion, communication preferences v3/v4, authentication, rate limits,
faults, call counters and the state file."""

import json
import time

import pytest
import requests

from consentry.connectors.hubspot.sandbox import DEFAULT_TOKEN, create_app
from consentry.connectors.sandbox_kit import ServerThread

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
CONTACTS = "/crm/v3/objects/contacts"
V4 = "/communication-preferences/v4"


class Sandbox:
    """A running sandbox and a few helpers to call it."""

    def __init__(self, **options):
        self.app = create_app(**options)
        self.server = ServerThread(self.app).start()
        self.url = self.server.url

    def call(self, method: str, path: str, *, headers=AUTH, **options) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=10, **options)

    def seed(self, *contacts: dict) -> None:
        self.call("POST", "/_sandbox/contacts/seed", json={"contacts": list(contacts)}).raise_for_status()

    def contact(self, email: str, *names: str) -> dict:
        params = {"idProperty": "email", "properties": ",".join(names)} if names else {"idProperty": "email"}
        answer = self.call("GET", f"{CONTACTS}/{email}", params=params)
        answer.raise_for_status()
        return answer.json()["properties"]

    def stop(self) -> None:
        self.server.stop()
        self.app.extensions["hubspot_sandbox"].close()


@pytest.fixture
def hub():
    running = Sandbox()
    yield running
    running.stop()


@pytest.fixture
def make_hub():
    started = []

    def make(**options) -> Sandbox:
        started.append(Sandbox(**options))
        return started[-1]

    yield make
    for running in started:
        running.stop()


def assert_hubspot_error(answer: requests.Response, status: int, category: str) -> dict:
    body = answer.json()
    assert answer.status_code == status, body
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["correlationId"] == answer.headers["X-HubSpot-Correlation-Id"]
    assert body["message"]
    return body


# -- properties ----------------------------------------------------------------------------------------------------


def test_an_unknown_property_is_refused_like_hubspot(hub):
    answer = hub.call("POST", CONTACTS, json={"properties": {"email": "a@example.com", "shoe_size": "42"}})
    body = assert_hubspot_error(answer, 400, "VALIDATION_ERROR")
    assert body["message"].startswith("Property values were not valid: ")
    [problem] = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert (problem["name"], problem["error"], problem["isValid"]) == ("shoe_size", "PROPERTY_DOESNT_EXIST", False)
    assert hub.call("GET", CONTACTS).json()["results"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", CONTACTS, {"properties": {"email": "new@example.com", "hs_email_optout": "false"}}),
        ("PATCH", f"{CONTACTS}/jane@example.com?idProperty=email", {"properties": {"hs_email_optout": "false"}}),
        (
            "POST",
            f"{CONTACTS}/batch/upsert",
            {"inputs": [{"id": "jane@example.com", "idProperty": "email", "properties": {"hs_email_optout": "true"}}]},
        ),
        ("POST", f"{CONTACTS}/batch/update", {"inputs": [{"id": "1001", "properties": {"hs_email_optout": "false"}}]}),
    ],
    ids=["create", "patch", "upsert", "batch-update"],
)
def test_hs_email_optout_is_read_only_everywhere(hub, method, path, body):
    hub.seed({"email": "jane@example.com", "opted_out": True})
    answer = hub.call(method, path, json=body)
    problem = assert_hubspot_error(answer, 400, "VALIDATION_ERROR")
    assert "READ_ONLY_VALUE" in problem["message"]
    assert hub.contact("jane@example.com", "hs_email_optout") == {"hs_email_optout": "true"}


def test_hs_email_optout_reflects_unsubscribe_all_and_a_v4_resubscription(hub):
    hub.seed({"email": "jo@example.com"})
    assert hub.contact("jo@example.com", "hs_email_optout") == {"hs_email_optout": None}
    hub.call("POST", f"{V4}/statuses/jo@example.com/unsubscribe-all", params={"channel": "EMAIL"}).raise_for_status()
    assert hub.contact("jo@example.com", "hs_email_optout") == {"hs_email_optout": "true"}
    body = {
        "channel": "EMAIL",
        "statusState": "SUBSCRIBED",
        "subscriptionId": 102,
        "legalBasis": "CONSENT_WITH_NOTICE",
        "legalBasisExplanation": "Signed up again at the fair",
    }
    answer = hub.call("POST", f"{V4}/statuses/jo@example.com", json=body)
    [status] = answer.json()["results"]
    assert (status["status"], status["setStatusSuccessReason"]) == ("SUBSCRIBED", "RESUBSCRIBE_OCCURRED")
    assert hub.contact("jo@example.com", "hs_email_optout", "hs_email_optout_101", "hs_email_optout_102") == {
        "hs_email_optout": "false",
        "hs_email_optout_101": "true",  # unsubscribing from all left every type unsubscribed
        "hs_email_optout_102": "false",
    }


def test_an_invalid_option_and_an_invalid_email_are_refused(hub):
    bad_option = hub.call("POST", CONTACTS, json={"properties": {"email": "x@example.com", "lifecyclestage": "fan"}})
    assert "INVALID_OPTION" in assert_hubspot_error(bad_option, 400, "VALIDATION_ERROR")["message"]
    bad_email = hub.call("POST", CONTACTS, json={"properties": {"email": "not-an-address"}})
    assert "INVALID_EMAIL" in assert_hubspot_error(bad_email, 400, "VALIDATION_ERROR")["message"]


# -- batches -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["create", "read", "update", "upsert", "archive"])
def test_more_than_100_inputs_are_refused(hub, operation):
    inputs = [
        {"id": f"p{n}@example.com", "idProperty": "email", "properties": {"email": f"p{n}@example.com"}}
        for n in range(101)
    ]
    answer = hub.call("POST", f"{CONTACTS}/batch/{operation}", json={"inputs": inputs})
    assert_hubspot_error(answer, 400, "VALIDATION_ERROR")
    assert hub.call("GET", CONTACTS).json()["results"] == []
    assert hub.call("POST", f"{CONTACTS}/batch/{operation}", json={"inputs": inputs[:100]}).status_code < 300


def test_batch_create_is_all_or_nothing_unless_each_input_has_a_trace_id(hub):
    mixed = [{"properties": {"email": "ok@example.com"}}, {"properties": {"email": "no@example.com", "shoe": "42"}}]
    assert_hubspot_error(hub.call("POST", f"{CONTACTS}/batch/create", json={"inputs": mixed}), 400, "VALIDATION_ERROR")
    assert hub.call("GET", CONTACTS).json()["results"] == []

    traced = [{**entry, "objectWriteTraceId": f"row-{n}"} for n, entry in enumerate(mixed)]
    answer = hub.call("POST", f"{CONTACTS}/batch/create", json={"inputs": traced})
    body = answer.json()
    assert answer.status_code == 207
    assert (body["status"], body["numErrors"]) == ("COMPLETE", 1)
    assert [(r["properties"]["email"], r["objectWriteTraceId"]) for r in body["results"]] == [
        ("ok@example.com", "row-0")
    ]
    [error] = body["errors"]
    assert (error["status"], error["category"], error["context"]) == (
        "error",
        "VALIDATION_ERROR",
        {"objectWriteTraceId": ["row-1"]},
    )


def test_batch_create_of_an_existing_email_is_a_409(hub):
    hub.seed({"email": "taken@example.com"})
    inputs = [{"properties": {"email": "fresh@example.com"}}, {"properties": {"email": "TAKEN@example.com"}}]
    body = assert_hubspot_error(hub.call("POST", f"{CONTACTS}/batch/create", json={"inputs": inputs}), 409, "CONFLICT")
    assert body["message"] == "Contact already exists. Existing ID: 1001"


def test_batch_read_and_update_report_unknown_ids_in_a_207(hub):
    hub.seed({"email": "a@example.com"}, {"email": "b@example.com"})
    read = hub.call("POST", f"{CONTACTS}/batch/read", json={"inputs": [{"id": "1001"}, {"id": "4242"}]})
    assert read.status_code == 207
    assert [r["id"] for r in read.json()["results"]] == ["1001"]
    assert read.json()["errors"][0]["context"] == {"ids": ["4242"]}
    by_email = hub.call(
        "POST",
        f"{CONTACTS}/batch/read",
        json={
            "idProperty": "email",
            "inputs": [{"id": "a@example.com"}, {"id": "b@example.com"}],
            "properties": ["email"],
        },
    )
    assert by_email.status_code == 200
    assert [r["properties"]["email"] for r in by_email.json()["results"]] == ["a@example.com", "b@example.com"]

    update = hub.call(
        "POST",
        f"{CONTACTS}/batch/update",
        json={"inputs": [{"id": "1002", "properties": {"firstname": "Bea"}}, {"id": "4242", "properties": {}}]},
    )
    assert update.status_code == 207
    assert update.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert hub.contact("b@example.com", "firstname") == {"firstname": "Bea"}


def test_upsert_by_email_refuses_duplicates_and_never_partially_succeeds(hub):
    twice = [
        {"id": "d@example.com", "idProperty": "email", "properties": {}},
        {"id": "D@example.com", "idProperty": "email", "properties": {}},
    ]
    duplicate = assert_hubspot_error(
        hub.call("POST", f"{CONTACTS}/batch/upsert", json={"inputs": twice}), 400, "VALIDATION_ERROR"
    )
    assert "Duplicate IDs" in duplicate["message"]
    one_bad = [
        {"id": "good@example.com", "idProperty": "email", "properties": {"firstname": "G"}},
        {"id": "bad@example.com", "idProperty": "email", "properties": {"unknown_thing": "x"}},
    ]
    assert_hubspot_error(
        hub.call("POST", f"{CONTACTS}/batch/upsert", json={"inputs": one_bad}), 400, "VALIDATION_ERROR"
    )
    assert hub.call("GET", CONTACTS).json()["results"] == []


# -- list, search, GDPR --------------------------------------------------------------------------------------------


def test_list_pages_with_after_and_refuses_limits_over_100(hub):
    hub.seed(*({"email": f"l{n}@example.com"} for n in range(5)))
    seen, after = [], None
    while True:
        params = {"limit": 2, "properties": "email", **({"after": after} if after else {})}
        page = hub.call("GET", CONTACTS, params=params).json()
        seen += [r["properties"]["email"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == [f"l{n}@example.com" for n in range(5)]
    assert_hubspot_error(hub.call("GET", CONTACTS, params={"limit": 101}), 400, "VALIDATION_ERROR")


def test_search_filters_sorts_and_pages(make_hub):
    hub = make_hub(search_rate=(50, 1.0))  # more searches per second than HubSpot allows, to test the rest
    hub.seed({"email": "old@example.com", "firstname": "Old"})
    time.sleep(0.005)
    mark = int(time.time() * 1000)
    time.sleep(0.005)
    hub.seed({"email": "mid@example.com", "firstname": "Mid"}, {"email": "new@example.com", "firstname": "New"})

    def search(*filters, **extra):
        body = {"filterGroups": [{"filters": list(filters)}] if filters else [], "properties": ["email"], **extra}
        return hub.call("POST", f"{CONTACTS}/search", json=body).json()

    since = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(mark)}
    assert {r["properties"]["email"] for r in search(since)["results"]} == {"mid@example.com", "new@example.com"}
    before = {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(mark)}
    assert [r["properties"]["email"] for r in search(before)["results"]] == ["old@example.com"]
    after_iso = {"propertyName": "createdate", "operator": "GT", "value": "2000-01-01T00:00:00Z"}
    assert search(after_iso)["total"] == 3
    exact = {"propertyName": "email", "operator": "EQ", "value": "MID@example.com"}
    assert [r["id"] for r in search(exact)["results"]] == ["1002"]

    descending = [{"propertyName": "email", "direction": "DESCENDING"}]
    first = search(limit=2, sorts=descending)
    assert [r["properties"]["email"] for r in first["results"]] == ["old@example.com", "new@example.com"]
    rest = search(limit=2, sorts=descending, after=first["paging"]["next"]["after"])
    assert [r["properties"]["email"] for r in rest["results"]] == ["mid@example.com"]
    assert "paging" not in rest

    too_many = hub.call("POST", f"{CONTACTS}/search", json={"limit": 201})
    assert_hubspot_error(too_many, 400, "VALIDATION_ERROR")
    unknown = hub.call(
        "POST", f"{CONTACTS}/search", json={"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ"}]}]}
    )
    assert_hubspot_error(unknown, 400, "VALIDATION_ERROR")


def test_search_has_its_own_secondly_limit_and_no_ten_second_headers(make_hub):
    hub = make_hub(search_rate=(2, 1.0))
    answers = [hub.call("POST", f"{CONTACTS}/search", json={}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["policyName"] == "SECONDLY"
    assert answers[-1].json()["message"] == "You have reached your secondly limit."
    assert "X-HubSpot-RateLimit-Max" not in answers[0].headers
    assert hub.call("GET", CONTACTS).status_code == 200  # other endpoints are not held back


def test_gdpr_delete_erases_the_contact_and_blocklists_the_address(hub):
    hub.seed({"email": "gone@example.com"})
    assert hub.call("POST", f"{CONTACTS}/gdpr-delete", json={"objectId": "1001"}).status_code == 204
    assert_hubspot_error(hub.call("GET", f"{CONTACTS}/1001"), 404, "OBJECT_NOT_FOUND")
    assert hub.call("GET", f"{CONTACTS}/1001", params={"archived": "true"}).status_code == 404  # not restorable
    unknown = hub.call("POST", f"{CONTACTS}/gdpr-delete", json={"objectId": "never@example.com", "idProperty": "email"})
    assert unknown.status_code == 204
    blocklist = hub.call("GET", "/_sandbox/contacts").json()["blocklist"]
    assert len(blocklist) == 2
    assert not any("@" in entry for entry in blocklist)  # kept as anonymized data, as HubSpot says
    for email in ("gone@example.com", "never@example.com"):  # an import cannot bring either back
        refused = hub.call("POST", "/_sandbox/contacts/seed", json={"contacts": [{"email": email}]})
        assert (refused.status_code, refused.json()["category"]) == (400, "VALIDATION_ERROR")


# -- communication preferences -------------------------------------------------------------------------------------


def test_v3_never_resubscribes_an_opted_out_address(hub):
    hub.seed(
        {"email": "all@example.com", "opted_out": True},
        {"email": "one@example.com", "subscriptions": {"101": "UNSUBSCRIBED"}},
    )
    basis = {"legalBasis": "CONSENT_WITH_NOTICE", "legalBasisExplanation": "Form"}
    for email in ("all@example.com", "one@example.com"):
        answer = hub.call(
            "POST",
            "/communication-preferences/v3/subscribe",
            json={"emailAddress": email, "subscriptionId": "101", **basis},
        )
        assert_hubspot_error(answer, 400, "VALIDATION_ERROR")
    other = hub.call(
        "POST",
        "/communication-preferences/v3/subscribe",
        json={"emailAddress": "one@example.com", "subscriptionId": 102, **basis},
    )
    assert other.json()["status"] == "SUBSCRIBED"
    status = hub.call("GET", "/communication-preferences/v3/status/email/all@example.com").json()
    assert {(s["id"], s["status"], s["sourceOfStatus"]) for s in status["subscriptionStatuses"]} == {
        ("101", "NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS"),
        ("102", "NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS"),
    }


@pytest.mark.parametrize(
    ("extra", "accepted"),
    [
        ({}, False),
        ({"legalBasis": "CONSENT_WITH_NOTICE"}, False),
        ({"legalBasis": "BECAUSE_I_SAY_SO", "legalBasisExplanation": "x"}, False),
        ({"legalBasis": "LEGITIMATE_INTEREST_CLIENT", "legalBasisExplanation": "Existing customer"}, True),
    ],
    ids=["no-basis", "no-explanation", "unknown-basis", "complete"],
)
def test_v4_subscribing_needs_a_legal_basis_and_its_explanation(hub, extra, accepted):
    hub.seed({"email": "v4@example.com", "opted_out": True})
    body = {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 101, **extra}
    answer = hub.call("POST", f"{V4}/statuses/v4@example.com", json=body)
    opted_out = hub.call("GET", "/_sandbox/opted-out/v4@example.com").json()["opted_out"]
    if accepted:
        assert answer.status_code == 200
        [status] = answer.json()["results"]
        assert (status["legalBasis"], status["legalBasisExplanation"]) == (
            "LEGITIMATE_INTEREST_CLIENT",
            "Existing customer",
        )
        assert not opted_out
    else:
        assert_hubspot_error(answer, 400, "VALIDATION_ERROR")
        assert opted_out


def test_v4_unsubscribing_needs_no_legal_basis_and_is_idempotent(hub):
    body = {"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriptionId": 101}
    first = hub.call("POST", f"{V4}/statuses/u@example.com", json=body).json()["results"][0]
    again = hub.call("POST", f"{V4}/statuses/u@example.com", json=body).json()["results"][0]
    assert (first["setStatusSuccessReason"], again["setStatusSuccessReason"]) == (
        "REQUESTED_CHANGE_OCCURRED",
        "NO_STATUS_CHANGE",
    )


def test_v4_reads_need_the_channel_and_batches_report_per_address(hub):
    hub.seed({"email": "r1@example.com", "opted_out": True}, {"email": "r2@example.com"})
    assert_hubspot_error(hub.call("GET", f"{V4}/statuses/r1@example.com"), 400, "VALIDATION_ERROR")
    one = hub.call("GET", f"{V4}/statuses/r1@example.com", params={"channel": "EMAIL"}).json()
    assert {s["status"] for s in one["results"]} == {"UNSUBSCRIBED"}

    read = hub.call(
        "POST",
        f"{V4}/statuses/batch/read",
        params={"channel": "EMAIL"},
        json={"inputs": ["r1@example.com", "r2@example.com"]},
    )
    statuses = {r["subscriberIdString"]: {s["status"] for s in r["statuses"]} for r in read.json()["results"]}
    assert statuses == {"r1@example.com": {"UNSUBSCRIBED"}, "r2@example.com": {"NOT_SPECIFIED"}}

    write = hub.call(
        "POST",
        f"{V4}/statuses/batch/write",
        json={
            "inputs": [
                {
                    "subscriberIdString": "r2@example.com",
                    "channel": "EMAIL",
                    "statusState": "UNSUBSCRIBED",
                    "subscriptionId": 102,
                },
                {
                    "subscriberIdString": "r2@example.com",
                    "channel": "EMAIL",
                    "statusState": "SUBSCRIBED",
                    "subscriptionId": 101,
                },
            ]
        },
    )
    assert write.status_code == 200
    assert write.json()["numErrors"] == 1
    assert [r["subscriptionId"] for r in write.json()["results"]] == [102]

    everyone = hub.call(
        "POST",
        f"{V4}/statuses/batch/unsubscribe-all",
        params={"channel": "EMAIL", "verbose": "true"},
        json={"inputs": ["r1@example.com", "r2@example.com"]},
    ).json()["results"]
    reasons = {r["subscriberIdString"]: {s["setStatusSuccessReason"] for s in r["statuses"]} for r in everyone}
    assert reasons == {"r1@example.com": {"NO_STATUS_CHANGE"}, "r2@example.com": {"UNSUBSCRIBE_FROM_ALL_OCCURRED"}}
    wide = hub.call(
        "POST",
        f"{V4}/statuses/batch/unsubscribe-all/read",
        params={"channel": "EMAIL"},
        json={"inputs": ["r2@example.com"]},
    )
    assert wide.json()["results"][0]["wideStatuses"][0]["wideStatusType"] == "PORTAL_WIDE"
    single = hub.call("GET", f"{V4}/statuses/nobody@example.com/unsubscribe-all", params={"channel": "EMAIL"})
    assert single.json()["results"] == []


@pytest.mark.parametrize(
    ("path", "status"),
    [("batch/read", 207), ("batch/unsubscribe-all", 200), ("batch/unsubscribe-all/read", 207)],
)
def test_v4_batches_answer_an_input_that_is_no_address_as_an_item_error(hub, path, status):
    hub.seed({"email": "r1@example.com"})
    answer = hub.call(
        "POST",
        f"{V4}/statuses/{path}",
        params={"channel": "EMAIL"},
        json={"inputs": ["R1@Example.com", "not-an-address"]},
    )
    assert answer.status_code == status
    body = answer.json()
    assert [r["subscriberIdString"] for r in body["results"]] == ["r1@example.com"]
    assert body["numErrors"] == 1
    assert body["errors"][0]["context"] == {"subscriberIdString": ["not-an-address"]}


# -- authentication, limits, faults, counters, state --------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer pat-wrong"}], ids=["missing", "unknown"])
def test_a_missing_or_unknown_token_is_hubspots_401(hub, headers):
    body = assert_hubspot_error(hub.call("GET", CONTACTS, headers=headers), 401, "INVALID_AUTHENTICATION")
    assert body["message"].startswith("Authentication credentials not found.")


def test_the_rolling_limit_is_per_token_with_hubspots_headers_and_429(make_hub):
    hub = make_hub(rate_limit=(3, 10.0), daily_limit=1000)
    answers = [hub.call("GET", CONTACTS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert answers[0].headers["X-HubSpot-RateLimit-Daily"] == "1000"
    assert answers[2].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "997"
    refused = answers[-1].json()
    assert set(refused) == {"status", "message", "errorType", "correlationId", "policyName"}
    assert (refused["status"], refused["errorType"], refused["policyName"]) == (
        "error",
        "RATE_LIMIT",
        "TEN_SECONDLY_ROLLING",
    )
    assert refused["message"] == "You have reached your ten_secondly_rolling limit."
    assert "Retry-After" not in answers[-1].headers
    oauth = hub.call(
        "POST",
        "/oauth/v1/token",
        headers={},
        data={
            "grant_type": "refresh_token",
            "client_id": "c",
            "client_secret": "hubspot-sandbox-client-secret",
            "refresh_token": "sandbox-refresh-token",
        },
    )
    other_token = {"Authorization": f"Bearer {oauth.json()['access_token']}"}
    assert hub.call("GET", CONTACTS, headers=other_token).status_code == 200


def test_the_daily_limit(make_hub):
    hub = make_hub(daily_limit=2)
    answers = [hub.call("GET", CONTACTS) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["policyName"] == "DAILY"
    assert answers[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_faults_answer_hubspots_bodies(hub):
    hub.call("POST", "/_sandbox/faults", json={"fail_next": 1, "fail_status": 503}).raise_for_status()
    failed = hub.call("GET", CONTACTS)
    assert failed.status_code == 503
    assert failed.json()["status"] == "error"
    hub.call("POST", "/_sandbox/faults", json={"fail_next": 1, "fail_status": 429}).raise_for_status()
    limited = hub.call("GET", CONTACTS)
    assert (limited.status_code, limited.json()["errorType"]) == (429, "RATE_LIMIT")
    assert hub.call("GET", CONTACTS).status_code == 200


def test_calls_are_counted_per_endpoint(hub):
    hub.call("GET", CONTACTS)
    hub.call("GET", CONTACTS)
    hub.call("POST", f"{CONTACTS}/search", json={})
    hub.call("GET", f"{CONTACTS}/1")
    counted = hub.call("GET", "/_sandbox/calls").json()
    assert counted["calls"] == {
        "GET /crm/v3/objects/contacts": 2,
        "POST /crm/v3/objects/contacts/search": 1,
        "GET /crm/v3/objects/contacts/<contact_id>": 1,
    }
    assert counted["total"] == 4
    hub.call("POST", "/_sandbox/calls/reset")
    assert hub.call("GET", "/_sandbox/calls").json()["total"] == 0


def test_state_survives_a_restart_with_a_state_file(make_hub, tmp_path):
    path = tmp_path / "hubspot.json"
    first = make_hub(state_path=path)
    first.call("POST", CONTACTS, json={"properties": {"email": "kept@example.com"}}).raise_for_status()
    first.call(
        "POST", f"{V4}/statuses/kept@example.com/unsubscribe-all", params={"channel": "EMAIL"}
    ).raise_for_status()
    second = make_hub(state_path=path)
    assert second.contact("kept@example.com", "hs_email_optout") == {"hs_email_optout": "true"}
    again = second.call("POST", CONTACTS, json={"properties": {"email": "kept@example.com"}})
    assert_hubspot_error(again, 409, "CONFLICT")
