"""The Mailchimp sandbox answers Mailchimp's official client, and behaves like Mailchimp where it matters."""

import hashlib
import hmac
import threading
import time
from urllib.parse import parse_qs

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, create_app, subscriber_hash
from consentry.connectors.sandbox_kit import Faults, ServerThread
from tests.waiting import wait_for

from .conftest import webhook_receiver

LIST = DEFAULT_LIST_ID


def api(sandbox, method, path, **options):
    return requests.request(method, f"{sandbox.url}/3.0{path}", auth=("any", DEFAULT_API_KEY), timeout=10, **options)


def test_the_official_client_pings_reads_and_writes_members(client):
    assert client.ping.get() == {"health_status": "Everything's Chimpy!"}
    created = client.lists.add_list_member(LIST, {"email_address": "Jane@Example.com", "status": "subscribed"})
    assert created["id"] == subscriber_hash("jane@example.com")
    assert created["status"] == "subscribed"
    updated = client.lists.set_list_member(
        LIST, created["id"], {"email_address": "jane@example.com", "status_if_new": "subscribed"}
    )
    assert updated["status"] == "subscribed"
    assert client.lists.get_list_member(LIST, "jane@example.com")["email_address"] == "Jane@Example.com"
    page = client.lists.get_list_members_info(LIST, count=1000)
    assert page["total_items"] == 1
    assert {"members", "list_id", "total_items"} <= set(page)


def test_the_official_client_runs_batch_subscribe_tags_and_webhooks(client, sandbox):
    result = client.lists.batch_list_members(
        LIST,
        {
            "members": [
                {"email_address": "a@example.com", "status": "subscribed"},
                {"email_address": "not-an-email", "status": "subscribed"},
            ],
            "update_existing": True,
        },
    )
    assert result["total_created"] == 1
    assert result["error_count"] == 1
    assert result["errors"][0]["error_code"] == "ERROR_GENERIC"
    client.lists.update_list_member_tags(LIST, "a@example.com", {"tags": [{"name": "vip", "status": "active"}]})
    assert [tag["name"] for tag in client.lists.get_list_member_tags(LIST, "a@example.com")["tags"]] == ["vip"]
    with ServerThread(webhook_receiver([])) as receiver:
        hook = client.lists.create_list_webhook(LIST, {"url": f"{receiver.url}/hook"})
        assert hook["signing_secret"]
        listed = client.lists.get_list_webhooks(LIST)["webhooks"]
    assert "signing_secret" not in listed[0]


def test_an_unsubscribed_member_cannot_be_subscribed_again_through_the_api(client):
    client.lists.add_list_member(LIST, {"email_address": "jane@example.com", "status": "unsubscribed"})
    with pytest.raises(ApiClientError) as error:
        client.lists.update_list_member(LIST, "jane@example.com", {"status": "subscribed"})
    assert error.value.status_code == 400
    assert "Member In Compliance State" in error.value.text


def test_an_address_already_on_the_list_is_refused_in_mailchimps_words(sandbox):
    member = {"email_address": "jane@example.com", "status": "subscribed"}
    assert api(sandbox, "POST", f"/lists/{LIST}/members", json=member).status_code == 200
    again = api(sandbox, "POST", f"/lists/{LIST}/members", json=member)
    assert again.status_code == 400
    assert again.json()["title"] == "Member Exists"
    assert again.json()["detail"] == (
        "jane@example.com is already a list member. Use PUT to insert or update list members."
    )
    batch = api(sandbox, "POST", f"/lists/{LIST}", json={"members": [member]}).json()
    assert batch["errors"] == [
        {
            "email_address": "jane@example.com",
            "error": "jane@example.com is already a list member, do you want to update? please provide "
            "update_existing:true in the request body",
            "error_code": "ERROR_CONTACT_EXISTS",
        }
    ]


def test_batch_subscribe_takes_at_most_500_members(sandbox):
    members = [{"email_address": f"p{n}@example.com", "status": "subscribed"} for n in range(501)]
    answer = api(sandbox, "POST", f"/lists/{LIST}", json={"members": members})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert set(answer.json()) >= {"type", "title", "status", "detail", "instance"}


@pytest.mark.parametrize(("auth", "title"), [(None, "API Key Missing"), (("any", "wrong-us1"), "API Key Invalid")])
def test_authentication_failures(sandbox, auth, title):
    answer = requests.get(f"{sandbox.url}/3.0/ping", auth=auth, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["title"] == title


def test_bearer_auth_is_accepted(sandbox):
    answer = requests.get(f"{sandbox.url}/3.0/ping", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}, timeout=5)
    assert answer.status_code == 200


def test_more_than_10_simultaneous_connections_get_429():
    with ServerThread(create_app(faults=Faults(delay_seconds=0.5))) as server:
        statuses = []

        def call():
            statuses.append(requests.get(f"{server.url}/3.0/ping", auth=("a", DEFAULT_API_KEY), timeout=10).status_code)

        threads = [threading.Thread(target=call) for _ in range(14)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses.count(429) >= 1
    assert statuses.count(200) >= 10


def test_fault_injection_answers_429_then_recovers(sandbox):
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": 1, "fail_status": 429}, timeout=5)
    assert api(sandbox, "GET", "/ping").status_code == 429
    assert api(sandbox, "GET", "/ping").status_code == 200


def test_state_survives_a_restart_when_kept_in_a_file(tmp_path):
    path = tmp_path / "mailchimp.json"
    with ServerThread(create_app(str(path))) as server:
        api(
            server, "POST", f"/lists/{LIST}/members", json={"email_address": "kept@example.com", "status": "subscribed"}
        )
    with ServerThread(create_app(str(path))) as server:
        assert api(server, "GET", f"/lists/{LIST}/members/kept@example.com").json()["status"] == "subscribed"


def test_webhooks_are_signed_honour_sources_and_are_retried(sandbox):
    received, failures = [], ["first attempt fails"]
    with ServerThread(webhook_receiver(received, failures)) as receiver:
        hook = api(
            sandbox,
            "POST",
            f"/lists/{LIST}/webhooks",
            json={"url": f"{receiver.url}/hook", "sources": {"user": True, "admin": True, "api": False}},
        ).json()
        api(
            sandbox, "POST", f"/lists/{LIST}/members", json={"email_address": "api@example.com", "status": "subscribed"}
        )
        api(sandbox, "PATCH", f"/lists/{LIST}/members/api@example.com", json={"status": "unsubscribed"})
        requests.post(
            f"{sandbox.url}/_sandbox/lists/{LIST}/seed",
            json={"members": [{"email_address": "user@example.com"}]},
            timeout=5,
        )
        requests.post(
            f"{sandbox.url}/_sandbox/lists/{LIST}/members/user@example.com/status",
            json={"status": "unsubscribed", "source": "user"},
            timeout=5,
        )
        assert wait_for(lambda: len(received) == 1)
        time.sleep(0.3)
    assert len(received) == 1  # the API-made change was not delivered: sources.api is off
    body, headers = received[0]
    form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    assert form["type"] == "unsubscribe"
    assert form["data[email]"] == "user@example.com"
    stamp, signature = (part.split("=", 1)[1] for part in headers["X-Mailchimp-Signature"].split(","))
    expected = hmac.new(hook["signing_secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    log = requests.get(f"{sandbox.url}/_sandbox/deliveries", timeout=5).json()["deliveries"]
    assert [entry["outcome"] for entry in log] == [500, 200]


def test_a_webhook_url_that_does_not_validate_is_refused(sandbox):
    answer = api(sandbox, "POST", f"/lists/{LIST}/webhooks", json={"url": "http://127.0.0.1:9/nowhere"})
    assert answer.status_code == 400


def test_the_sandbox_command_serves_on_loopback(tmp_path):
    import subprocess
    import sys

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consentry.sdk.cli",
            "sandbox",
            "mailchimp",
            "--port",
            "0",
            "--state",
            str(tmp_path / "s.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("mailchimp sandbox on http://127.0.0.1:")
        url = line.split()[-1]
        assert requests.get(f"{url}/3.0/ping", auth=("a", DEFAULT_API_KEY), timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
