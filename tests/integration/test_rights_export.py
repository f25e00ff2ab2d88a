"""An access request answered end to end on 127.0.0.1: a person in the three vendor sandboxes, synced, then
`consentry rights export` lists every system's records with their fields, and `rights show` says the request is done."""

import json
import stat

import pytest

from consentry.webhook_server.stack import Stack
from tests.waiting import wait_for

from .test_propagation import running
from .test_rights_requests import SYSTEMS, request, shown, sync

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EMAIL = "acces.moi@example.com"


@pytest.fixture
def stack(tmp_path):
    with running(Stack(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'consentry.db'}")) as started:
        yield started


def export(stack: Stack, request_id: int, output) -> None:
    done = stack.cli("rights", "export", str(request_id), "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(output)
    assert EMAIL not in done.stdout + done.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_an_access_export_lists_what_every_system_holds(stack, tmp_path):
    stack.seed_person(EMAIL, first="Aurore", last="Accès")
    sync(stack, "--full")
    stack.unsubscribe_in("mailchimp", EMAIL)  # an opt-out: a consent event, a suppression entry, propagation
    assert wait_for(lambda: all(stack.opted_out_in(EMAIL).values()), timeout=30), stack.opted_out_in(EMAIL)
    request_id, _due = request(stack, "access", "--email", EMAIL, "--verified-by", "reply from the address on file")
    assert shown(stack, request_id)["status"] == "open"

    export(stack, request_id, tmp_path / "access.json")

    held = json.loads((tmp_path / "access.json").read_text())
    assert list(held) == ["consentry", *SYSTEMS]
    assert {name: section["status"] for name, section in held.items()} == dict.fromkeys(held, "done")
    by_system = {name: {record["kind"]: record["fields"] for record in held[name]["records"]} for name in SYSTEMS}
    assert by_system["hubspot"]["contact"]["properties"]["email"] == EMAIL
    assert by_system["hubspot"]["contact"]["properties"]["lastname"] == "Accès"
    assert by_system["mailchimp"]["member"]["email_address"] == EMAIL
    assert by_system["mailchimp"]["member"]["status"] == "unsubscribed"
    assert by_system["salesforce"]["contact"]["Email"] == EMAIL
    assert by_system["salesforce"]["contact"]["HasOptedOutOfEmail"] is True
    local = held["consentry"]
    assert local["person"]["email"] == EMAIL
    assert {event["source_system"] for event in local["events"]} >= {"mailchimp"}
    assert any(event["kind"] in ("withdrawn", "objected") for event in local["events"])
    assert [(entry["identifier_kind"], len(entry["identifier_hash"])) for entry in local["suppression"]] == [
        ("email", 64)
    ]
    assert {(job["target_system"], job["status"]) for job in local["propagation"]} >= {
        ("hubspot", "done"),
        ("salesforce", "done"),
    }
    assert {contact["system"] for contact in local["contacts"]} == set(SYSTEMS)
    answer = shown(stack, request_id)
    assert answer["status"] == "done"
    assert answer["systems"] == dict.fromkeys(["consentry", *SYSTEMS], "done")

    export(stack, request_id, tmp_path / "access.html")
    page = (tmp_path / "access.html").read_text()
    for name in ("consentry", *SYSTEMS):
        assert f'<section id="{name}">' in page
    assert page.count(EMAIL) >= 3
    assert "Accès" in page
