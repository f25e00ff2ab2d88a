"""Sync across the three sandboxes: overlapping and conflicting data, idempotent, dry run, never re-subscribes."""

import pytest
import requests
from sqlalchemy import select

from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY as MAILCHIMP_KEY
from consentry.connectors.mailchimp.sandbox import DEFAULT_LIST_ID as MAILCHIMP_LIST
from consentry.sdk.store import contacts, persons
from consentry.webhook_server.runtime import build_runtime
from consentry.webhook_server.stack import Stack
from consentry.webhook_server.sync import run_sync
from tests.integration.test_propagation import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def stack(tmp_path):
    with running(Stack(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'consentry.db'}")) as started:
        yield started


@pytest.fixture
def runtime(stack):
    current = build_runtime(environ=stack.env)
    yield current
    current.close()


def seed_conflict(stack):
    """Ann is subscribed in Mailchimp but opted out in HubSpot; Bob is everywhere and fine; Cleo only in Salesforce."""
    stack.seed_person("ann@example.com")
    stack.seed_person("bob@example.com")
    requests.post(
        f"{stack.url('hubspot')}/_sandbox/contacts/seed",
        timeout=10,
        json={"contacts": [{"email": "ann.alt@example.com"}]},
    )
    requests.post(
        f"{stack.url('salesforce')}/_sandbox/seed",
        json={"Lead": [{"Email": "cleo@example.com", "LastName": "C", "Company": "X"}]},
        timeout=10,
    )
    requests.post(
        f"{stack.url('hubspot')}/_sandbox/contacts/unsubscribe", json={"email": "ann@example.com"}, timeout=10
    )


def test_an_opt_out_anywhere_wins_everywhere_and_a_second_run_changes_nothing(stack, runtime):
    seed_conflict(stack)
    stack.kill_worker()  # the sync alone must do it
    first = run_sync(runtime)
    assert stack.opted_out_in("ann@example.com") == {"mailchimp": True, "hubspot": True, "salesforce": True}
    assert not any(stack.opted_out_in("bob@example.com").values())
    assert first.conflicts >= 1
    assert first.systems["mailchimp"].unsubscribes_pushed == 1
    second = run_sync(runtime)  # reads back the systems' new states (our own writes) and pushes nothing
    assert all(s.unsubscribes_pushed == 0 for s in second.systems.values())
    assert second.systems["mailchimp"].read <= first.systems["mailchimp"].read
    third = run_sync(runtime)
    assert all(s.unsubscribes_pushed == 0 for s in third.systems.values())
    assert all(s.new_events == 0 for s in third.systems.values())
    assert all(s.tags_written == 0 for s in third.systems.values())  # unchanged verdicts cost no call
    assert stack.opted_out_in("ann@example.com") == {"mailchimp": True, "hubspot": True, "salesforce": True}


def test_a_dry_run_shows_the_changes_and_writes_nothing(stack, runtime):
    seed_conflict(stack)
    stack.kill_worker()
    preview = run_sync(runtime, dry_run=True)
    assert preview.systems["mailchimp"].unsubscribes_pushed == 1
    assert stack.opted_out_in("ann@example.com")["mailchimp"] is False
    assert stack.opted_out_in("ann@example.com")["salesforce"] is False
    again = run_sync(runtime, dry_run=True)
    assert again.systems["mailchimp"].read == preview.systems["mailchimp"].read  # the watermark did not move


def test_sync_never_resubscribes_and_tags_every_system(stack, runtime):
    seed_conflict(stack)
    stack.kill_worker()
    run_sync(runtime)
    member = requests.get(
        f"{stack.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/bob@example.com",
        auth=("x", MAILCHIMP_KEY),
        timeout=5,
    ).json()
    assert member["status"] == "subscribed"
    assert any(tag["name"].startswith("consentry:email:") for tag in member["tags"])
    ann = requests.get(
        f"{stack.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/ann@example.com",
        auth=("x", MAILCHIMP_KEY),
        timeout=5,
    ).json()
    assert ann["status"] == "unsubscribed"
    assert "consentry:email:forbidden" in {tag["name"] for tag in ann["tags"]}


def test_a_changed_verdict_rewrites_only_that_persons_tags_in_small_pages(stack, runtime, monkeypatch):
    from consentry.webhook_server import sync

    monkeypatch.setattr(sync, "BATCH", 2)  # pages of two records: the paging must not skip or repeat anyone
    monkeypatch.setattr(sync, "WRITE_BUFFER", 3)  # and writes flushed along the way, not only at the end
    seed_conflict(stack)
    for n in range(5):
        stack.seed_person(f"extra{n}@example.com")
    stack.kill_worker()
    first = run_sync(runtime)
    assert first.systems["mailchimp"].tags_written == 7  # ann, bob and five more
    assert run_sync(runtime).systems["mailchimp"].tags_written == 0
    requests.post(
        f"{stack.url('hubspot')}/_sandbox/contacts/unsubscribe", json={"email": "bob@example.com"}, timeout=10
    )
    after = run_sync(runtime)
    assert stack.opted_out_in("bob@example.com") == {"mailchimp": True, "hubspot": True, "salesforce": True}
    assert after.systems["mailchimp"].tags_written == 1
    assert after.systems["salesforce"].tags_written == 1
    bob = requests.get(
        f"{stack.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/bob@example.com",
        auth=("x", MAILCHIMP_KEY),
        timeout=5,
    ).json()
    assert "consentry:email:forbidden" in {tag["name"] for tag in bob["tags"]}


def test_a_forbidden_channel_turns_off_its_mailchimp_marketing_permission(stack, runtime):
    """Mailchimp's GDPR fields are read, kept by the sync and written back: only the opted-out person's changes."""
    fields = requests.post(
        f"{stack.url('mailchimp')}/_sandbox/lists/{MAILCHIMP_LIST}/marketing-permissions",
        json={"permissions": [{"text": "Email"}, {"text": "Direct Mail"}]},
        timeout=10,
    ).json()["marketing_permissions"]
    email_field = next(item["marketing_permission_id"] for item in fields if item["text"] == "Email")
    seed_conflict(stack)
    for person in ("ann@example.com", "bob@example.com"):
        requests.patch(
            f"{stack.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/{person}",
            auth=("x", MAILCHIMP_KEY),
            json={"marketing_permissions": [{"marketing_permission_id": email_field, "enabled": True}]},
            timeout=10,
        ).raise_for_status()
    stack.kill_worker()
    run_sync(runtime)

    def email_permission(person):
        member = requests.get(
            f"{stack.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/{person}",
            auth=("x", MAILCHIMP_KEY),
            timeout=10,
        ).json()
        return next(item["enabled"] for item in member["marketing_permissions"] if item["text"] == "Email")

    assert email_permission("ann@example.com") is False  # opted out in HubSpot: forbidden everywhere
    assert email_permission("bob@example.com") is True  # allowed, but no proof of a newer consent: left as it was


@pytest.mark.parametrize(
    ("audience", "cleo_email"), [(None, "email=forbidden"), ("b2b_nominative", "email=allowed_with_conditions")]
)
def test_a_systems_configured_audience_decides_for_records_that_do_not_say(stack, audience, cleo_email):
    """Cleo is a Salesforce lead who never consented: a consumer may not be emailed, a named professional may."""
    environ = dict(stack.env, **({"CONSENTRY_SALESFORCE_AUDIENCE": audience} if audience else {}))
    configured = build_runtime(environ=environ)
    try:
        seed_conflict(stack)
        stack.kill_worker()
        run_sync(configured)
    finally:
        configured.close()
    records = requests.get(f"{stack.url('salesforce')}/_sandbox/records", timeout=10).json()["records"]
    cleo = next(r for r in records if r.get("Email") == "cleo@example.com")
    assert cleo_email in cleo["Consentry_Status__c"]


def test_an_unknown_audience_is_refused_before_anything_runs(stack):
    from consentry.sdk.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="audience"):
        build_runtime(environ=dict(stack.env, CONSENTRY_SALESFORCE_AUDIENCE="martians"))


def test_the_country_each_system_records_chooses_the_rules_of_that_record(stack, runtime):
    requests.post(
        f"{stack.url('mailchimp')}/_sandbox/lists/{MAILCHIMP_LIST}/seed",
        timeout=10,
        json={
            "members": [
                {  # pending (no confirmed consent): the US's opt-out regime and France's consent rule differ
                    "email_address": "us@example.com",
                    "status": "pending",
                    "merge_fields": {"ADDRESS": {"addr1": "1 Main St", "country": "US"}},
                },
                {
                    "email_address": "nowhere@example.com",
                    "status": "pending",
                    "location": {"country_code": "US"},  # a guess from an IP
                },
            ]
        },
    ).raise_for_status()
    requests.post(
        f"{stack.url('hubspot')}/_sandbox/contacts/seed",
        timeout=10,
        json={
            "contacts": [
                {"email": "de@example.com", "country": "Germany"},
                {"email": "jp@example.com", "country": "Japan"},
            ]
        },
    ).raise_for_status()
    requests.post(
        f"{stack.url('salesforce')}/_sandbox/seed",
        timeout=10,
        json={
            "Contact": [{"Email": "es@example.com", "LastName": "E", "MailingCountry": "Spain"}],
            "Lead": [{"Email": "uk@example.com", "LastName": "U", "Company": "X", "Country": "United Kingdom"}],
        },
    ).raise_for_status()
    stack.kill_worker()
    run_sync(runtime)  # at any hour: the tags are standing verdicts
    with runtime.services.engine.connect() as connection:
        rows = connection.execute(
            select(persons.c.email, contacts.c.jurisdiction).join(persons, contacts.c.person_id == persons.c.id)
        ).all()
    assert dict(rows) == {
        "us@example.com": "US",
        "nowhere@example.com": "FR",  # Mailchimp's location is guessed: the connector's jurisdiction applies
        "de@example.com": "DE",
        "jp@example.com": "FR",  # no rules for Japan: the connector's jurisdiction applies
        "es@example.com": "ES",
        "uk@example.com": "UK",
    }
    tags = {
        email: {
            tag["name"]
            for tag in requests.get(
                f"{stack.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/{email}",
                auth=("x", MAILCHIMP_KEY),
                timeout=5,
            ).json()["tags"]
        }
        for email in ("us@example.com", "nowhere@example.com")
    }
    assert tags["us@example.com"] != tags["nowhere@example.com"], tags  # judged under different rules
