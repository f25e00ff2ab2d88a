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
from sqlalchemy import select

from consentry.connectors.sandbox_kit import Person, set_faults
from consentry.sdk.store import make_engine, propagation_jobs
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


def erase_jobs(stack: Stack) -> dict[str, str]:
    """Each system's erase job status, read from the job table."""
    engine = make_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            table = propagation_jobs.c
            rows = connection.execute(select(table.target_system, table.status).where(table.action == "erase"))
            return dict(rows.all())
    finally:
        engine.dispose()


def test_a_worker_killed_in_the_middle_of_an_erasure_finishes_it_after_restart(stack):
    email = "interrompue@example.com"
    stack.seed_person(email)
    sync(stack, "--full")
    set_faults(stack.url("salesforce"), delay_seconds=1.5)  # every Salesforce call is slow: the kill lands in one
    request_id, _ = request(stack, "erasure", "--email", email)
    assert wait_for(lambda: erase_jobs(stack).get("salesforce") == "running", timeout=30), erase_jobs(stack)
    stack.kill_worker()
    assert shown(stack, request_id)["status"] == "open"
    set_faults(stack.url("salesforce"), delay_seconds=0)
    stack.start_worker()
    assert wait_for(lambda: shown(stack, request_id)["status"] == "done", timeout=60), shown(stack, request_id)
    assert stack.holds_in(email) == dict.fromkeys(SYSTEMS, False)


def test_a_vendor_failing_for_a_while_is_retried_and_one_that_keeps_failing_shows_as_late(tmp_path):
    settings = {"CONSENTRY_MAX_ATTEMPTS": "3"}
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    with running(Stack(home=tmp_path, database_url=database_url, settings=settings)) as stack:
        email = "retardee@example.com"
        stack.seed_person(email)
        sync(stack, "--full")
        set_faults(stack.url("mailchimp"), fail_next=2, fail_status=503)  # a while: fewer failures than attempts
        set_faults(stack.url("hubspot"), fail_next=10_000, fail_status=500)  # down for longer than the attempts
        request_id, _ = request(stack, "erasure", "--email", email)
        assert wait_for(lambda: shown(stack, request_id)["status"] == "failed", timeout=60), shown(stack, request_id)
        answer = shown(stack, request_id)
        assert answer["systems"] == {
            "consentry": "open",
            "hubspot": "failed",
            "mailchimp": "done",
            "salesforce": "done",
        }
        assert answer["details"]["hubspot"]  # the error code that killed it, for the operator
        assert "@" not in json.dumps(answer)
        late = stack.cli("rights", "list", "--status", "failed").stdout
        assert f"{request_id}\terasure\tfailed" in late
        assert "hubspot=failed" in late
        assert stack.holds_in(email)["hubspot"]  # nothing was lost: the person is still named in Consentry too

        set_faults(stack.url("hubspot"), fail_next=0)
        assert stack.cli("propagation", "retry").returncode == 0  # replayed
        assert wait_for(lambda: shown(stack, request_id)["status"] == "done", timeout=60), shown(stack, request_id)
        assert stack.holds_in(email) == dict.fromkeys(SYSTEMS, False)


@pytest.mark.parametrize("origin", ["hubspot", "salesforce"])
def test_an_erasure_made_inside_a_crm_erases_the_person_everywhere(stack, origin):
    email = f"oubliee.{origin}@example.com"
    stack.seed_person(email)
    sync(stack, "--full")
    stack.erase_in_vendor(origin, email)  # HubSpot's GDPR delete; a Salesforce Individual marked to be forgotten
    assert wait_for(lambda: stack.cli("rights", "list").stdout.strip() != "", timeout=30)
    [line] = stack.cli("rights", "list").stdout.splitlines()
    request_id = int(line.split("\t")[0])
    assert wait_for(lambda: shown(stack, request_id)["status"] == "done", timeout=60), shown(stack, request_id)
    answer = shown(stack, request_id)
    assert (answer["source"], answer["kind"]) == (origin, "erasure")
    assert stack.holds_in(email) == dict.fromkeys(SYSTEMS, False)
    time.sleep(2)  # the erasure's own deletions come back as webhooks: echoes, no second request
    assert len(stack.cli("rights", "list").stdout.splitlines()) == 1
    assert_nowhere_in_the_database(stack, [email])


def test_an_objection_is_tracked_on_the_clock_and_reaches_every_system(stack):
    email = "objecte@example.com"
    stack.seed_person(email)
    sync(stack, "--full")
    request_id, due = request(stack, "objection", "--email", email, "--received-at", "2026-11-30T23:30:00-05:00")
    assert due == "2026-12-30"  # the day of receipt is read in its own offset: 30 November, not 1 December
    assert wait_for(lambda: all(stack.opted_out_in(email).values()), timeout=60), stack.opted_out_in(email)
    assert wait_for(lambda: shown(stack, request_id)["status"] == "done", timeout=30), shown(stack, request_id)
    assert set(shown(stack, request_id)["systems"]) == set(SYSTEMS)
    assert stack.holds_in(email) == dict.fromkeys(SYSTEMS, True)  # an objection erases nothing
