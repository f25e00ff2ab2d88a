"""Fixtures for the Mailchimp tests: a real sandbox on 127.0.0.1, a helper to act on it, and a connector builder."""

import io
import json
import tarfile

import mailchimp_marketing
import pytest
import requests
from flask import Flask, request

from consentry.connectors.mailchimp import MailchimpConnector
from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread

LIST = DEFAULT_LIST_ID


class SandboxHelper:
    """Acts on the sandbox as Mailchimp's admin (seed, GDPR fields) or as an API client, and reads its counters."""

    def __init__(self, url: str):
        self.url = url

    def api(self, method: str, path: str, **options) -> requests.Response:
        return requests.request(method, f"{self.url}/3.0{path}", auth=("any", DEFAULT_API_KEY), timeout=30, **options)

    def seed(self, *entries, status: str = "subscribed") -> None:
        members = [{"email_address": entry, "status": status} if isinstance(entry, str) else entry for entry in entries]
        answer = requests.post(f"{self.url}/_sandbox/lists/{LIST}/seed", json={"members": members}, timeout=60)
        answer.raise_for_status()

    def gdpr(self, *texts: str) -> dict[str, str]:
        """Give the audience GDPR fields with these texts; returns text -> marketing_permission_id."""
        answer = requests.post(
            f"{self.url}/_sandbox/lists/{LIST}/marketing-permissions",
            json={"permissions": [{"text": text} for text in texts]},
            timeout=10,
        ).json()
        return {item["text"]: item["marketing_permission_id"] for item in answer["marketing_permissions"]}

    def member(self, email: str) -> dict:
        return self.api("GET", f"/lists/{LIST}/members/{email}").json()

    def tags(self, email: str) -> set[str]:
        return {tag["name"] for tag in self.member(email)["tags"]}

    def permissions(self, email: str) -> dict[str, bool]:
        return {item["text"]: item["enabled"] for item in self.member(email)["marketing_permissions"]}

    def calls(self) -> dict[str, int]:
        return requests.get(f"{self.url}/_sandbox/calls", timeout=5).json()["calls"]


def archive_entries(url: str) -> list[dict]:
    """The results of a finished batch, from its storage link (no API key)."""
    content = requests.get(url, timeout=10).content
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as archive:
        return [entry for item in archive.getmembers() for entry in json.load(archive.extractfile(item))]


def webhook_receiver(received: list, failures: list | None = None) -> Flask:
    """An endpoint for the sandbox's webhooks at /hook: keeps (body, headers), answers 500 while `failures` last."""
    app = Flask("receiver")

    @app.route("/hook", methods=["GET", "POST"])
    def hook():
        if request.method == "POST":
            if failures:
                failures.pop()
                return "busy", 500
            received.append((request.get_data(), dict(request.headers)))
        return ""

    return app


@pytest.fixture
def sandbox():
    with ServerThread(create_app()) as server:
        yield server


@pytest.fixture
def mc(sandbox):
    return SandboxHelper(sandbox.url)


@pytest.fixture
def client(sandbox):
    official = mailchimp_marketing.Client()
    official.set_config({"api_key": DEFAULT_API_KEY, "server": "us1"})
    official.api_client.host = f"{sandbox.url}/3.0"
    return official


@pytest.fixture
def make_connector(sandbox, built):
    settings = {"api_key": DEFAULT_API_KEY, "list_id": LIST, "base_url": sandbox.url}
    return lambda **overrides: built(MailchimpConnector, settings, overrides)
