"""HubSpot's GDPR deletion and access requests: the official client's purge against the sandbox, the two
notifications a permanent deletion sends and what the connector makes of them, the blocklist it leaves, and the
export of a person's contacts."""

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException as ContactsError
from hubspot.crm.contacts import PublicGdprDeleteInput, SimplePublicObjectInputForCreate

from consentry.connectors.base import Capability, DataSubject, Unsubscribe
from consentry.connectors.hubspot import HubSpotConnector
from consentry.connectors.hubspot.sandbox import (
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN,
    create_app,
    erase_in_vendor,
    holds,
    point_webhooks,
    seed,
)
from consentry.connectors.sandbox_kit import Person, ServerThread
from consentry.sdk.consent_state import ALL_CHANNELS, EventKind
from consentry.sdk.webhooks import WebhookRequest

from .test_sandbox_webhooks import Receiver, eventually

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
CONTACTS = "/crm/v3/objects/contacts"


@pytest.fixture
def sandbox():
    app = create_app(webhook_backoff=lambda attempt: 0.05)
    with ServerThread(app) as server:
        yield server
    app.extensions["hubspot_sandbox"].close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.stop()


@pytest.fixture
def connector(sandbox):
    config = {"access_token": DEFAULT_TOKEN, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": sandbox.url}
    return HubSpotConnector(config, sleep=lambda seconds: None)


def call(sandbox, method: str, path: str, **options) -> requests.Response:
    return requests.request(method, f"{sandbox.url}{path}", headers=AUTH, timeout=10, **options)


def delivered(hit: dict) -> WebhookRequest:
    return WebhookRequest("POST", hit["url"], hit["body"].encode(), hit["headers"])


def test_the_connector_declares_the_rights_requests():
    assert {Capability.ERASE_PEOPLE, Capability.EXPORT_PEOPLE} <= HubSpotConnector.capabilities


def test_the_official_clients_purge_deletes_for_good(sandbox):
    client = HubSpot(access_token=DEFAULT_TOKEN, host=sandbox.url)
    contacts = client.crm.contacts.basic_api
    first = contacts.create(SimplePublicObjectInputForCreate(properties={"email": "purged@example.com"}))
    second = contacts.create(SimplePublicObjectInputForCreate(properties={"email": "by.id@example.com"}))

    contacts.purge(public_gdpr_delete_input=PublicGdprDeleteInput(object_id="purged@example.com", id_property="email"))
    contacts.purge(public_gdpr_delete_input=PublicGdprDeleteInput(object_id=second.id))

    for record in (first, second):
        for archived in (False, True):  # gone, and not in the recycle bin either
            with pytest.raises(ContactsError) as missing:
                contacts.get_by_id(record.id, archived=archived)
            assert missing.value.status == 404
    assert client.crm.contacts.get_all() == []
    searched = call(sandbox, "POST", f"{CONTACTS}/search", json={"query": "example.com"}).json()
    assert searched["total"] == 0
    with pytest.raises(ContactsError) as unknown:  # an unknown id is HubSpot's 404, not a blocklisted address
        contacts.purge(public_gdpr_delete_input=PublicGdprDeleteInput(object_id="999999"))
    assert unknown.value.status == 404


def test_a_deletion_in_hubspot_sends_two_notifications_and_only_the_privacy_one_is_an_erasure(
    sandbox, receiver, connector
):
    point_webhooks(sandbox.url, receiver.url, {})
    seed(sandbox.url, [Person(email="forget.me@example.com"), Person(email="stays@example.com")])
    [record_id] = [c.record_id for c in connector.fetch_contacts() if c.email == "forget.me@example.com"]
    erase_in_vendor(sandbox.url, "forget.me@example.com")

    hits = eventually(lambda: receiver.received if len(receiver.events()) >= 2 else None)
    assert sorted((e["subscriptionType"], str(e["objectId"])) for e in receiver.events()) == [
        ("contact.deletion", record_id),
        ("contact.privacyDeletion", record_id),
    ]
    before = dict(connector.transport.calls.by_kind)
    events = [event for hit in hits for event in connector.receive_webhook(delivered(hit), known=lambda e: set())]
    [erasure] = events
    assert (erasure.erasure, erasure.kind, erasure.channel) == (True, EventKind.OBJECTED, ALL_CHANNELS)
    assert (erasure.record_id, erasure.email, erasure.phone) == (record_id, None, None)
    assert erasure.vendor_type == "contact.privacyDeletion"
    assert erasure.event_key.startswith("hubspot:contact.privacyDeletion:")
    assert connector.transport.calls.by_kind == before  # nobody is looked up: the contact is gone
    assert not holds(sandbox.url, "forget.me@example.com")
    assert holds(sandbox.url, "stays@example.com")


def test_consentrys_erasure_is_echoed_by_the_ids_it_reports(sandbox, receiver, connector):
    point_webhooks(sandbox.url, receiver.url, {})
    seed(sandbox.url, [Person(email="echo@example.com")])
    report = connector.erase_person(DataSubject(email="echo@example.com"))
    eventually(lambda: len(receiver.events()) >= 2)
    privacy = [e for e in receiver.events() if e["subscriptionType"] == "contact.privacyDeletion"]
    assert (report.method, report.deleted) == ("gdpr_delete", [str(e["objectId"]) for e in privacy])


def test_a_person_is_found_by_the_ids_consentry_synced_even_after_their_address_changed(sandbox, connector):
    seed(sandbox.url, [Person(email="old.address@example.com"), Person(email="bystander@example.com")])
    [record_id] = [c.record_id for c in connector.fetch_contacts() if c.email == "old.address@example.com"]
    changed = {"id": record_id, "properties": {"email": "new.address@example.com"}}
    requests.post(f"{sandbox.url}/_sandbox/contacts/update", json=changed, timeout=10).raise_for_status()

    subject = DataSubject(email="old.address@example.com", record_ids=(record_id, "424242"))
    [exported] = [r for r in connector.export_person(subject) if r.kind == "contact"]
    assert exported.fields["properties"]["email"] == "new.address@example.com"
    report = connector.erase_person(subject)
    assert (report.method, report.deleted) == ("gdpr_delete", [record_id])
    assert not holds(sandbox.url, "new.address@example.com")
    assert holds(sandbox.url, "bystander@example.com")


def test_the_blocklist_stops_the_import_and_the_ui_but_not_the_api(sandbox, connector):
    seed(sandbox.url, [Person(email="blocked@example.com"), Person(email="editor@example.com")])
    requests.post(
        f"{sandbox.url}/_sandbox/contacts/unsubscribe", json={"email": "blocked@example.com"}, timeout=10
    ).raise_for_status()
    [erased] = connector.erase_person(DataSubject(email="blocked@example.com")).deleted

    imported = requests.post(
        f"{sandbox.url}/_sandbox/contacts/seed", json={"contacts": [{"email": "blocked@example.com"}]}, timeout=10
    )
    assert (imported.status_code, imported.json()["category"]) == (400, "VALIDATION_ERROR")
    edited = requests.post(
        f"{sandbox.url}/_sandbox/contacts/update",
        json={"email": "editor@example.com", "properties": {"email": "blocked@example.com"}},
        timeout=10,
    )
    assert edited.status_code == 400
    assert not holds(sandbox.url, "blocked@example.com")

    # the earlier opt-out went with the contact; a late unsubscribe is kept by address and makes no contact
    statuses = call(sandbox, "GET", "/communication-preferences/v4/statuses/blocked@example.com?channel=EMAIL")
    assert {s["status"] for s in statuses.json()["results"]} == {"NOT_SPECIFIED"}
    report = connector.push_unsubscribes([Unsubscribe(email="blocked@example.com")])
    assert (report.failed, report.applied) == ([], 1)
    assert not holds(sandbox.url, "blocked@example.com")

    created = call(sandbox, "POST", CONTACTS, json={"properties": {"email": "blocked@example.com"}})
    assert created.status_code == 201  # an API request may add the address back, as a new contact
    assert created.json()["id"] != erased
    assert holds(sandbox.url, "blocked@example.com")


def test_the_export_gives_every_property_the_portal_defines_and_the_subscription_statuses(sandbox, connector):
    definition = {"name": "shoe_size", "label": "Shoe size", "type": "string", "fieldType": "text"}
    call(sandbox, "POST", "/crm/v3/properties/contacts", json={**definition, "groupName": "contactinformation"})
    seed(sandbox.url, [Person(email="someone@example.com", first_name="Some", country="FR")])
    seed(sandbox.url, [Person(email="else@example.com", first_name="Else")])
    call(sandbox, "PATCH", f"{CONTACTS}/someone@example.com?idProperty=email", json={"properties": {"shoe_size": "42"}})
    requests.post(
        f"{sandbox.url}/_sandbox/contacts/unsubscribe", json={"email": "someone@example.com"}, timeout=10
    ).raise_for_status()

    records = connector.export_person(DataSubject(email="someone@example.com"))
    [contact] = [r for r in records if r.kind == "contact"]
    [statuses] = [r for r in records if r.kind == "subscription_statuses"]
    assert (contact.system, statuses.record_id) == ("hubspot", contact.record_id)
    properties = contact.fields["properties"]
    assert (properties["shoe_size"], properties["firstname"], properties["country"]) == ("42", "Some", "FR")
    assert properties["hs_email_optout"] == "true"
    assert {"hs_object_id", "createdate", "lastmodifieddate", "lifecyclestage"} <= set(properties)
    assert statuses.fields["subscriberIdString"] == "someone@example.com"
    assert {s["status"] for s in statuses.fields["statuses"]} == {"UNSUBSCRIBED"}
    assert "else@example.com" not in str([dict(r.fields) for r in records])
    assert connector.export_person(DataSubject(phone="+33612345678")) == []  # HubSpot is not searched by phone


def test_a_contact_gone_between_its_look_up_and_its_deletion_is_reported_deleted(sandbox, connector, monkeypatch):
    """A retried delete whose first attempt worked meets a 404: the echo of that deletion is still Consentry's."""
    seed(sandbox.url, [Person(email="raced@example.com")])
    [record_id] = [c.record_id for c in connector.fetch_contacts()]
    erase_in_vendor(sandbox.url, "raced@example.com")
    monkeypatch.setattr(connector, "_contacts_of", lambda subject, properties: {record_id: {}})
    report = connector.erase_person(DataSubject(email="raced@example.com"))
    assert (report.method, report.deleted, report.calls) == ("gdpr_delete", [record_id], 1)  # the delete's 404
