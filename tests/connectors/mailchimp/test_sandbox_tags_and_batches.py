"""The sandbox's tags are static segments, and its batch operations run like Mailchimp's: checked with the official
client where it has the call, and with raw requests for the errors."""

import json

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from consentry.connectors.mailchimp.sandbox import create_app
from consentry.connectors.sandbox_kit import ServerThread

from .conftest import LIST, SandboxHelper, archive_entries


def member_tags(client, email: str) -> set[str]:
    return {tag["name"] for tag in client.lists.get_list_member_tags(LIST, email)["tags"]}


def test_the_official_client_lists_finds_and_changes_tags_as_static_segments(mc, client):
    client.lists.batch_list_members(
        LIST,
        {
            "members": [
                {"email_address": "ann@example.com", "status": "subscribed", "tags": ["consentry:email:allowed"]},
                {
                    "email_address": "bob@example.com",
                    "status": "subscribed",
                    "tags": ["consentry:email:allowed", "vip"],
                },
                {"email_address": "cleo@example.com", "status": "subscribed"},
            ]
        },
    )
    segments = client.lists.list_segments(LIST, type="static", count=1000)
    by_name = {segment["name"]: segment for segment in segments["segments"]}
    assert set(by_name) == {"consentry:email:allowed", "vip"}
    assert segments["total_items"] == 2
    allowed = by_name["consentry:email:allowed"]
    assert allowed["type"] == "static"
    assert allowed["member_count"] == 2
    assert client.lists.get_segment(LIST, str(allowed["id"]))["name"] == "consentry:email:allowed"
    member = client.lists.get_list_member(LIST, "ann@example.com")
    assert member["tags"] == [{"id": allowed["id"], "name": "consentry:email:allowed"}]  # a tag id is its segment id
    assert [tag["name"] for tag in client.lists.tag_search(LIST, name="consentry:")["tags"]] == [
        "consentry:email:allowed"
    ]

    answer = client.lists.batch_segment_members(
        {"members_to_remove": ["ann@example.com"], "members_to_add": ["cleo@example.com"]}, LIST, str(allowed["id"])
    )

    assert (answer["total_added"], answer["total_removed"], answer["error_count"]) == (1, 1, 0)
    assert [m["email_address"] for m in answer["members_removed"]] == ["ann@example.com"]
    assert member_tags(client, "ann@example.com") == set()
    assert member_tags(client, "bob@example.com") == {"consentry:email:allowed", "vip"}
    assert member_tags(client, "cleo@example.com") == {"consentry:email:allowed"}
    assert client.lists.get_segment(LIST, str(allowed["id"]))["member_count"] == 2


def test_the_official_client_creates_tags_and_tags_members_one_at_a_time(mc, client):
    mc.seed("ann@example.com", "bob@example.com")
    created = client.lists.create_segment(LIST, {"name": "Influencer", "static_segment": ["ann@example.com"]})
    segment_id = str(created["id"])
    assert member_tags(client, "ann@example.com") == {"Influencer"}

    client.lists.create_segment_member(LIST, segment_id, {"email_address": "bob@example.com"})
    assert {m["email_address"] for m in client.lists.get_segment_members_list(LIST, segment_id)["members"]} == {
        "ann@example.com",
        "bob@example.com",
    }
    client.lists.remove_segment_member(LIST, segment_id, "ann@example.com")
    assert member_tags(client, "ann@example.com") == set()

    client.lists.delete_segment(LIST, segment_id)
    assert member_tags(client, "bob@example.com") == set()
    with pytest.raises(ApiClientError) as error:
        client.lists.get_segment(LIST, segment_id)
    assert error.value.status_code == 404
    again = client.lists.create_segment(LIST, {"name": "Influencer", "static_segment": []})
    assert str(again["id"]) != segment_id  # a new tag, a new id


@pytest.mark.parametrize("segment_id", ["999999", "not-a-number"])
def test_an_unknown_segment_is_a_404_problem(mc, client, segment_id):
    mc.seed("ann@example.com")
    with pytest.raises(ApiClientError) as error:
        client.lists.batch_segment_members({"members_to_remove": ["ann@example.com"]}, LIST, segment_id)
    assert error.value.status_code == 404
    answer = mc.api("POST", f"/lists/{LIST}/segments/{segment_id}", json={"members_to_remove": ["ann@example.com"]})
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["title"] == "Resource Not Found"


@pytest.mark.parametrize("field", ["members_to_add", "members_to_remove"])
def test_more_than_500_addresses_per_array_are_refused(mc, client, field):
    emails = [f"p{n}@example.com" for n in range(501)]
    mc.seed(*emails)
    segment_id = str(client.lists.create_segment(LIST, {"name": "t", "static_segment": []})["id"])

    refused = mc.api("POST", f"/lists/{LIST}/segments/{segment_id}", json={field: emails})
    accepted = mc.api("POST", f"/lists/{LIST}/segments/{segment_id}", json={field: emails[:500]})

    assert refused.status_code == 400
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert set(refused.json()) >= {"type", "title", "status", "detail", "instance"}
    assert accepted.status_code == 200
    assert mc.tags("p0@example.com") == ({"t"} if field == "members_to_add" else set())


def test_addresses_not_on_the_audience_are_reported_and_otherwise_ignored(mc, client):
    mc.seed("ann@example.com")
    segment_id = str(client.lists.create_segment(LIST, {"name": "t", "static_segment": []})["id"])

    answer = client.lists.batch_segment_members(
        {"members_to_add": ["ann@example.com", "stranger@example.com", "not-an-email"]}, LIST, segment_id
    )

    assert answer["total_added"] == 1
    assert answer["errors"] == [
        {"email_addresses": ["stranger@example.com", "not-an-email"], "error": answer["errors"][0]["error"]}
    ]
    assert mc.api("GET", f"/lists/{LIST}/members/stranger@example.com").status_code == 404


def test_an_unsupported_method_is_a_405_problem(mc):
    answer = mc.api("PUT", f"/lists/{LIST}/segments")
    assert answer.status_code == 405
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_tags_written_before_the_registry_existed_are_found_after_a_restart(tmp_path):
    path = tmp_path / "mailchimp.json"
    with ServerThread(create_app(str(path))) as server:
        SandboxHelper(server.url).seed({"email_address": "ann@example.com", "tags": ["old"]})
    state = json.loads(path.read_text())
    for item in state["lists"].values():  # as a sandbox of the previous version saved it
        del item["segments"], item["next_segment_id"]
    path.write_text(json.dumps(state))

    with ServerThread(create_app(str(path))) as server:
        helper = SandboxHelper(server.url)
        [segment] = helper.api("GET", f"/lists/{LIST}/segments").json()["segments"]
        assert segment["name"] == "old"
        helper.api(
            "POST", f"/lists/{LIST}/members/ann@example.com/tags", json={"tags": [{"name": "new", "status": "active"}]}
        )
        ids = {tag["name"]: tag["id"] for tag in helper.member("ann@example.com")["tags"]}
    assert ids["old"] == segment["id"]
    assert ids["new"] != ids["old"]


# -- batch operations --------------------------------------------------------------------------------------------


def test_the_official_client_runs_a_batch_and_reads_its_results(mc, client):
    mc.seed("ann@example.com")
    started = client.batches.start(
        {
            "operations": [
                {
                    "method": "PATCH",
                    "path": f"/lists/{LIST}/members/ann@example.com",
                    "operation_id": "first",
                    "body": json.dumps({"merge_fields": {"FNAME": "Ann"}}),
                },
                {"method": "GET", "path": f"/lists/{LIST}/members/nobody@example.com", "operation_id": "second"},
                {"method": "GET", "path": f"/lists/{LIST}/members", "params": {"count": 1}, "operation_id": "third"},
            ]
        }
    )
    assert started["status"] == "pending"
    assert started["total_operations"] == 3

    finished = client.batches.status(started["id"])

    assert finished["status"] == "finished"
    assert (finished["finished_operations"], finished["errored_operations"]) == (3, 1)
    assert mc.member("ann@example.com")["merge_fields"]["FNAME"] == "Ann"
    results = {entry["operation_id"]: entry for entry in archive_entries(finished["response_body_url"])}
    assert results["first"]["status_code"] == 200
    assert results["second"]["status_code"] == 404
    assert json.loads(results["second"]["response"])["title"] == "Resource Not Found"
    assert json.loads(results["third"]["response"])["total_items"] == 1
    assert [batch["id"] for batch in client.batches.list()["batches"]] == [started["id"]]
    calls = mc.calls()
    assert calls["POST /3.0/batches"] == 1
    assert not any(kind.startswith("PATCH") for kind in calls)  # the operations are not calls of their own


def test_a_batch_stays_unfinished_for_the_configured_number_of_status_reads(mc, client):
    requests.post(f"{mc.url}/_sandbox/batches", json={"polls_before_finish": 2}, timeout=5)
    batch_id = client.batches.start({"operations": [{"method": "GET", "path": "/ping"}]})["id"]
    assert [client.batches.status(batch_id)["status"] for _ in range(3)] == ["started", "started", "finished"]


def test_a_body_that_is_not_a_json_string_fails_when_the_operation_runs(mc, client):
    mc.seed("ann@example.com")
    operation = {"method": "PATCH", "path": f"/lists/{LIST}/members/ann@example.com", "body": {"vip": True}}
    batch_id = client.batches.start({"operations": [operation]})["id"]
    finished = client.batches.status(batch_id)
    assert finished["errored_operations"] == 1
    [result] = archive_entries(finished["response_body_url"])
    assert json.loads(result["response"])["title"] == "JSON Parse Exception"


@pytest.mark.parametrize(
    "body",
    [{}, {"operations": "x"}, {"operations": [{"path": "/ping"}]}, {"operations": [{"method": "GET", "path": "ping"}]}],
    ids=["no operations", "not a list", "no method", "relative path"],
)
def test_a_malformed_batch_is_refused_with_a_400_problem(mc, body):
    answer = mc.api("POST", "/batches", json=body)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_an_unknown_batch_is_a_404_and_a_deleted_batch_is_gone(mc, client):
    with pytest.raises(ApiClientError) as error:
        client.batches.status("0000000000")
    assert error.value.status_code == 404
    batch_id = client.batches.start({"operations": []})["id"]
    client.batches.delete_request(batch_id)
    assert mc.api("GET", f"/batches/{batch_id}").status_code == 404
