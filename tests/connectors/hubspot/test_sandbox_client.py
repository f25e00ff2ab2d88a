"""The HubSpot sandbox answers HubSpot's official Python client (hubspot-api-client) over real HTTP: contacts,
properties, communication preferences v3, the webhooks management API (developer key) and the OAuth refresh."""

import json

import pytest
import requests
from hubspot import HubSpot
from hubspot.communication_preferences import ApiException as PreferencesError
from hubspot.communication_preferences import PublicUpdateSubscriptionStatusRequest
from hubspot.crm.contacts import ApiException as ContactsError
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import ApiException as PropertiesError
from hubspot.crm.properties import PropertyCreate
from hubspot.oauth import ApiException as OAuthError
from hubspot.webhooks import ApiException as WebhooksError
from hubspot.webhooks import (
    BatchInputSubscriptionBatchUpdateRequest,
    SettingsChangeRequest,
    SubscriptionBatchUpdateRequest,
    SubscriptionCreateRequest,
    SubscriptionPatchRequest,
    ThrottlingSettings,
)

from consentry.connectors.hubspot.sandbox import (
    APP_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_DEVELOPER_API_KEY,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_TOKEN,
    create_app,
)
from consentry.connectors.sandbox_kit import ServerThread


@pytest.fixture
def server():
    app = create_app()
    with ServerThread(app) as running:
        yield running
    app.extensions["hubspot_sandbox"].close()


@pytest.fixture
def client(server):
    return HubSpot(access_token=DEFAULT_TOKEN, host=server.url)


def seed(server, contacts):
    requests.post(f"{server.url}/_sandbox/contacts/seed", json={"contacts": contacts}, timeout=10).raise_for_status()


def test_contacts_create_read_list_search_upsert_and_archive(server, client):
    contacts = client.crm.contacts
    jane = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "Jane@Example.com", "firstname": "Jane"})
    )
    assert jane.properties["email"] == "jane@example.com"  # HubSpot keeps addresses in lower case
    assert jane.properties["hs_object_id"] == jane.id
    read = contacts.basic_api.get_by_id("jane@example.com", id_property="email", properties=["firstname", "phone"])
    assert read.properties == {"firstname": "Jane", "phone": None}

    upserted = contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "jane@example.com", "idProperty": "email", "properties": {"lastname": "Doe"}},
                {"id": "john@example.com", "idProperty": "email", "properties": {"firstname": "John"}},
            ]
        )
    )
    assert {(r.properties["email"], r.new) for r in upserted.results} == {
        ("jane@example.com", False),
        ("john@example.com", True),
    }

    first = contacts.basic_api.get_page(limit=1)
    assert len(first.results) == 1
    second = contacts.basic_api.get_page(limit=1, after=first.paging.next.after)
    assert second.results[0].id != first.results[0].id
    assert second.paging is None

    found = contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="email", operator="EQ", value="JOHN@example.com")])
            ],
            properties=["firstname"],
            limit=10,
        )
    )
    assert found.total == 1
    assert found.results[0].properties["firstname"] == "John"

    contacts.basic_api.update(jane.id, SimplePublicObjectInput(properties={"firstname": "Janet"}))
    batch = contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": jane.id}, {"id": "999999"}], properties=["firstname"])
    )
    assert [r.properties["firstname"] for r in batch.results] == ["Janet"]
    assert batch.num_errors == 1
    assert batch.errors[0].category == "OBJECT_NOT_FOUND"

    contacts.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[{"id": jane.id}]))
    assert [c.properties["email"] for c in contacts.get_all()] == ["john@example.com"]
    with pytest.raises(ContactsError) as missing:
        contacts.basic_api.get_by_id(jane.id)
    assert missing.value.status == 404
    archived = contacts.basic_api.get_by_id(jane.id, archived=True)
    assert archived.archived is True


def test_a_duplicate_email_is_hubspots_409_with_the_existing_id(client):
    first = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "a@example.com"})
    )
    with pytest.raises(ContactsError) as conflict:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "A@example.com"}))
    body = json.loads(conflict.value.body)
    assert conflict.value.status == 409
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first.id}"


def test_properties_list_read_create_and_conflict(client):
    core = client.crm.properties.core_api
    listed = {p.name: p for p in core.get_all("contacts").results}
    assert listed["hs_email_optout"].modification_metadata.read_only_value is True
    assert listed["email"].has_unique_value is True

    definition = PropertyCreate(
        name="consentry_status",
        label="Consentry status",
        type="string",
        field_type="text",
        group_name="contactinformation",
    )
    created = core.create("contacts", definition)
    assert created.hubspot_defined is False
    assert core.get_by_name("contacts", "consentry_status").label == "Consentry status"
    with pytest.raises(PropertiesError) as conflict:
        core.create("contacts", definition)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["category"] == "OBJECT_ALREADY_EXISTS"
    client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "s@example.com", "consentry_status": "email=allowed"})
    )


def test_communication_preferences_v3(server, client):
    seed(server, [{"email": "pat@example.com"}])
    preferences = client.communication_preferences
    definitions = preferences.definition_api.get_page().subscription_definitions
    assert {d.id for d in definitions} == {"101", "102"}

    subscribed = preferences.status_api.subscribe(
        PublicUpdateSubscriptionStatusRequest(
            email_address="pat@example.com",
            subscription_id="101",
            legal_basis="CONSENT_WITH_NOTICE",
            legal_basis_explanation="Ticked the box on the signup form",
        )
    )
    assert (subscribed.status, subscribed.source_of_status) == ("SUBSCRIBED", "SUBSCRIPTION_STATUS")
    statuses = {
        s.id: s.status for s in preferences.status_api.get_email_status("pat@example.com").subscription_statuses
    }
    assert statuses == {"101": "SUBSCRIBED", "102": "NOT_SUBSCRIBED"}

    request = PublicUpdateSubscriptionStatusRequest(email_address="pat@example.com", subscription_id="101")
    assert preferences.status_api.unsubscribe(request).status == "NOT_SUBSCRIBED"
    with pytest.raises(PreferencesError) as again:
        preferences.status_api.unsubscribe(request)
    assert again.value.status == 400
    resubscribe = PublicUpdateSubscriptionStatusRequest(
        email_address="pat@example.com",
        subscription_id="101",
        legal_basis="CONSENT_WITH_NOTICE",
        legal_basis_explanation="Asked again",
    )
    with pytest.raises(PreferencesError) as refused:
        preferences.status_api.subscribe(resubscribe)
    assert refused.value.status == 400
    assert json.loads(refused.value.body)["category"] == "VALIDATION_ERROR"
    contact = client.crm.contacts.basic_api.get_by_id(
        "pat@example.com", id_property="email", properties=["hs_email_optout_101", "hs_email_optout"]
    )
    assert contact.properties == {"hs_email_optout_101": "true", "hs_email_optout": None}  # not out of all email


def test_webhooks_management_with_the_developer_key(server):
    developer = HubSpot(api_key=DEFAULT_DEVELOPER_API_KEY, host=server.url).webhooks
    settings = developer.settings_api.configure(
        APP_ID,
        SettingsChangeRequest(
            target_url=f"{server.url}/nowhere", throttling=ThrottlingSettings(max_concurrent_requests=10)
        ),
    )
    assert settings.target_url == f"{server.url}/nowhere"
    created = developer.subscriptions_api.create(
        APP_ID, SubscriptionCreateRequest(event_type="contact.propertyChange", property_name="hs_email_optout")
    )
    assert created.active is False  # HubSpot's default
    assert developer.subscriptions_api.update(int(created.id), APP_ID, SubscriptionPatchRequest(active=True)).active
    deletion = developer.subscriptions_api.create(
        APP_ID, SubscriptionCreateRequest(event_type="contact.deletion", active=True)
    )
    batch = developer.subscriptions_api.update_batch(
        APP_ID,
        BatchInputSubscriptionBatchUpdateRequest(
            inputs=[SubscriptionBatchUpdateRequest(id=int(deletion.id), active=False)]
        ),
    )
    assert [s.active for s in batch.results] == [False]
    listed = developer.subscriptions_api.get_all(APP_ID).results
    assert {(s.event_type, s.property_name, s.active) for s in listed} == {
        ("contact.propertyChange", "hs_email_optout", True),
        ("contact.deletion", None, False),
    }
    with pytest.raises(WebhooksError) as refused:
        HubSpot(api_key="not-the-key", host=server.url).webhooks.settings_api.get_all(APP_ID)
    assert refused.value.status == 401
    assert json.loads(refused.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_oauth_refresh_with_the_official_client(server):
    oauth = HubSpot(host=server.url).oauth.tokens_api
    issued = oauth.create(
        grant_type="refresh_token",
        client_id="consentry-app",
        client_secret=DEFAULT_CLIENT_SECRET,
        refresh_token=DEFAULT_REFRESH_TOKEN,
    )
    assert issued.expires_in == 1800
    assert issued.refresh_token == DEFAULT_REFRESH_TOKEN
    seed(server, [{"email": "o@example.com"}])
    with_token = HubSpot(access_token=issued.access_token, host=server.url)
    assert len(with_token.crm.contacts.basic_api.get_page().results) == 1

    requests.post(f"{server.url}/_sandbox/tokens/expire", timeout=5).raise_for_status()
    with pytest.raises(ContactsError) as expired:
        with_token.crm.contacts.basic_api.get_page()
    body = json.loads(expired.value.body)
    assert expired.value.status == 401
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert set(body) >= {"status", "message", "correlationId", "context"}

    with pytest.raises(OAuthError) as bad:
        oauth.create(
            grant_type="refresh_token",
            client_id="consentry-app",
            client_secret=DEFAULT_CLIENT_SECRET,
            refresh_token="stolen",
        )
    assert bad.value.status == 400
    assert json.loads(bad.value.body)["status"] == "BAD_REFRESH_TOKEN"
