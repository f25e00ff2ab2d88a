"""Rights requests end to end on 127.0.0.1: three sandboxes, the webhook server, a worker process and the CLI. The
vendors' official Python clients confirm what each system holds afterwards."""

import json
import time
from pathlib import Path

import mailchimp_marketing
import pytest
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from consentry.connectors.sandbox_kit import Person
from consentry.webhook_server.stack import Stack
from tests.waiting import wait_for

from .test_propagation import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYSTEMS = ("hubspot", "mailchimp", "salesforce")


@pytest.fixture
def stack(tmp_path):
    with running(Stack(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'consentry.db'}")) as started:
        yield started


def request(stack: Stack, kind: str, *arguments: str) -> tuple[int, str]:
    made = stack.cli("rights", "request", kind, *arguments)
    assert made.returncode == 0, made.stderr
    request_id, due = made.stdout.splitlines()[-1].split()
    return int(request_id), due


def shown(stack: Stack, request_id: int) -> dict:
    answer = stack.cli("rights", "show", str(request_id), "--json")
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def sync(stack: Stack, *arguments: str) -> str:
    done = stack.cli("sync", *arguments)
    assert done.returncode == 0, done.stderr
    return done.stdout


class PlainHttp(requests.adapters.HTTPAdapter):
    """simple-salesforce always builds https:// URLs: the sandbox on 127.0.0.1 speaks http."""

    def send(self, request, **options):
        request.url = request.url.replace("https://", "http://", 1)
        return super().send(request, **options)


def official_clients(stack: Stack) -> dict:
    env = stack.env
    hub = HubSpot(access_token=env["CONSENTRY_HUBSPOT_ACCESS_TOKEN"], host=stack.url("hubspot"))
    chimp = mailchimp_marketing.Client()
    chimp.set_config({"api_key": env["CONSENTRY_MAILCHIMP_API_KEY"], "server": "us1"})
    chimp.api_client.host = f"{stack.url('mailchimp')}/3.0"
    token = requests.post(f"{stack.url('salesforce')}/_sandbox/token", timeout=5).json()["access_token"]
    session = requests.Session()
    session.mount("https://127.0.0.1", PlainHttp())
    force = Salesforce(instance_url=stack.url("salesforce"), session_id=token, version="60.0", session=session)
    return {"hubspot": hub, "mailchimp": chimp, "salesforce": force}


def test_an_erasure_reaches_every_system_then_consentry_and_nothing_comes_back(stack):
    email = "effacer.moi@example.com"
    stack.seed_person(email, first="Effacée", last="Martin")
    sync(stack, "--full")
    assert email.encode() in database_bytes(stack)  # what the scan below must no longer find
    request_id, due = request(stack, "erasure", "--email", email, "--verified-by", "reply from the address on file")
    assert shown(stack, request_id)["due"] == due
    assert wait_for(lambda: shown(stack, request_id)["status"] == "done", timeout=60), shown(stack, request_id)
    answer = shown(stack, request_id)
    assert answer["systems"] == dict.fromkeys(["consentry", *SYSTEMS], "done")
    assert stack.holds_in(email) == dict.fromkeys(SYSTEMS, False)

    clients = official_clients(stack)
    found = clients["hubspot"].crm.contacts.search_api.do_search(
        public_object_search_request={
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}]
        }
    )
    assert found.total == 0
    with pytest.raises(mailchimp_marketing.api_client.ApiClientError) as missing:
        clients["mailchimp"].lists.get_list_member(stack.env["CONSENTRY_MAILCHIMP_LIST_ID"], email)
    assert missing.value.status_code == 404
    assert clients["salesforce"].query(f"SELECT Id FROM Contact WHERE Email = '{email}'")["totalSize"] == 0
    assert clients["salesforce"].query(f"SELECT Id FROM Lead WHERE Email = '{email}'")["totalSize"] == 0

    time.sleep(2)  # the deletions' own webhooks (HubSpot's privacy deletion) come back: echoes, no new request
    listed = stack.cli("rights", "list").stdout.splitlines()
    assert len(listed) == 1
    stack.seed("salesforce", [Person(email=email, first_name="Effacée", last_name="Martin")])  # imported again
    summary = sync(stack, "--full").splitlines()
    salesforce = next(line.split() for line in summary if line.startswith("salesforce"))
    assert int(salesforce[2]) >= 1  # skipped: recognised by the erasure's suppression hash
    assert summary[-1].startswith("0 people")
    assert_nowhere_in_the_database(stack, [email, "Effacée", "effacer.moi"])


def database_files(stack: Stack) -> list[Path]:
    database = Path(stack.database_url.removeprefix("sqlite:///"))
    return [path for path in (database, database.with_name(database.name + "-wal")) if path.exists()]


def database_bytes(stack: Stack) -> bytes:
    return b"".join(path.read_bytes() for path in database_files(stack))


def assert_nowhere_in_the_database(stack: Stack, needles: list[str]) -> None:
    """Byte scan of the SQLite file and its write-ahead log."""
    for path in database_files(stack):
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, f"{needle!r} found in {path.name}"
