"""The Mailchimp connector's rights requests: a permanent delete (never an archive), the member exported whole,
and an erased address that no later write brings back."""

import pytest

import consentry.connectors.mailchimp.sandbox.app as sandbox_app
from consentry.connectors.base import ConsentTag, DataSubject, Unsubscribe
from consentry.connectors.mailchimp import subscriber_hash
from consentry.connectors.mailchimp.sandbox import holds
from consentry.connectors.sandbox_kit import set_faults
from consentry.sdk.errors import ConnectorError

from .conftest import LIST

ERASED_DETAIL = (
    "{} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list."
)


def test_an_erasure_deletes_the_member_permanently_by_address_or_by_synced_id(mc, make_connector):
    mc.seed("by.address@example.com", "by.id@example.com", "kept@example.com")
    connector = make_connector()
    by_address = connector.erase_person(DataSubject(email="By.Address@Example.com"))
    assert (by_address.method, by_address.calls) == ("permanent_delete", 1)
    assert by_address.deleted == [subscriber_hash("by.address@example.com")]
    by_id = connector.erase_person(DataSubject(record_ids=(subscriber_hash("by.id@example.com"),)))
    assert by_id.deleted == [subscriber_hash("by.id@example.com")]
    for email in ("by.address@example.com", "by.id@example.com"):
        assert not holds(mc.url, email)
        again = {"email_address": email, "status_if_new": "unsubscribed"}
        refused = mc.api("PUT", f"/lists/{LIST}/members/{subscriber_hash(email)}", json=again)
        assert refused.json()["title"] == "Forgotten Email Not Subscribed"  # a permanent delete, not an archive
    assert holds(mc.url, "kept@example.com")


def test_the_address_and_its_id_are_deleted_once_and_foreign_ids_are_skipped(mc, make_connector):
    mc.seed("person@example.com")
    digest = subscriber_hash("person@example.com")
    report = make_connector().erase_person(
        DataSubject(email="person@example.com", record_ids=(digest.upper(), "../../batches", "003000000000001"))
    )
    assert (report.deleted, report.calls) == ([digest], 1)
    assert mc.calls() == {"POST /3.0/lists/<list_id>/members/<reference>/actions/delete-permanent": 1}


def test_an_archived_member_is_erased_too(mc, client, make_connector):
    mc.seed("archived@example.com")
    client.lists.delete_list_member(LIST, "archived@example.com")
    report = make_connector().erase_person(DataSubject(email="archived@example.com"))
    assert report.deleted == [subscriber_hash("archived@example.com")]
    assert not holds(mc.url, "archived@example.com")


def test_a_permanent_delete_answered_by_a_proxy_page_is_not_taken_as_done(mc, make_connector):
    mc.seed("proxied@example.com")
    set_faults(mc.url, garbage_next=1)
    with pytest.raises(ConnectorError) as error:
        make_connector().erase_person(DataSubject(email="proxied@example.com"))
    assert (error.value.code, error.value.retryable) == ("UNEXPECTED_RESPONSE", True)
    assert holds(mc.url, "proxied@example.com")


def test_unsubscribing_an_erased_address_is_not_found_and_leaves_the_others_applied(mc, make_connector):
    mc.seed("erased@example.com", "kept@example.com")
    connector = make_connector()
    connector.erase_person(DataSubject(email="erased@example.com"))
    report = connector.push_unsubscribes(
        [Unsubscribe(email="erased@example.com"), Unsubscribe(email="kept@example.com")]
    )
    assert (report.applied, report.not_found, report.failed) == (1, 1, [])
    assert not holds(mc.url, "erased@example.com")
    assert mc.member("kept@example.com")["status"] == "unsubscribed"


@pytest.mark.parametrize(
    ("error", "code", "counted"),
    [
        (ERASED_DETAIL, "ERROR_GENERIC", (1, 1, [])),  # what the sandbox assumes
        (ERASED_DETAIL, "ERROR_NOT_DOCUMENTED", (1, 1, [])),  # another code: the words decide
        ("{} could not be added.", "ERROR_GENERIC", (1, 0, [(0, "ERROR_GENERIC")])),  # other words: failed, not lost
    ],
    ids=["assumed", "other-code", "other-words"],
)
def test_batch_subscribe_counts_an_erased_address_by_the_refusal_s_words_not_its_code(
    mc, make_connector, monkeypatch, error, code, counted
):
    """No capture of batch subscribe refusing an erased address exists (see the sandbox's `forgotten` module)."""
    mc.seed("erased@example.com", "kept@example.com")
    connector = make_connector()
    connector.erase_person(DataSubject(email="erased@example.com"))
    refusal = {"error": error.format("erased@example.com"), "error_code": code}
    monkeypatch.setattr(sandbox_app, "batch_refusal", lambda email: {"email_address": email, **refusal})
    report = connector.push_unsubscribes(
        [Unsubscribe(email="erased@example.com"), Unsubscribe(email="kept@example.com")]
    )
    assert (report.applied, report.not_found, report.failed) == counted
    assert not holds(mc.url, "erased@example.com")


def test_tagging_a_member_erased_since_the_sync_read_it_is_not_found_and_writes_nothing_more(mc, make_connector):
    ids = mc.gdpr("Email")
    enabled = [{"marketing_permission_id": ids["Email"], "enabled": True}]
    mc.seed({"email_address": "read.then.erased@example.com", "marketing_permissions": enabled})
    connector = make_connector()
    [contact] = connector.fetch_contacts()
    connector.erase_person(DataSubject(email="read.then.erased@example.com"))
    before = connector.transport.calls.total
    known = {**contact.attributes, "previous": {"email": "allowed"}}  # a stale tag to remove, a permission to turn off
    report = connector.apply_consent([ConsentTag(email=contact.email, status={"email": "forbidden"}, known=known)])
    assert (report.applied, report.not_found, report.failed) == (0, 1, [])
    assert connector.transport.calls.total - before == 1  # batch subscribe only: no untagging, no permission update
    assert not holds(mc.url, "read.then.erased@example.com")


def test_an_export_gives_the_member_with_every_field_mailchimp_returns(mc, make_connector):
    ids = mc.gdpr("Email")
    mc.seed(
        {
            "email_address": "Exported@Example.com",
            "status": "unsubscribed",
            "merge_fields": {"FNAME": "Ada", "ADDRESS": {"country": "FR"}},
            "location": {"country_code": "FR", "timezone": "Europe/Paris"},
            "tags": ["customer"],
            "marketing_permissions": [{"marketing_permission_id": ids["Email"], "enabled": True}],
        },
        "other@example.com",
    )
    [record] = make_connector().export_person(DataSubject(email="exported@example.com"))
    assert (record.system, record.kind, record.record_id) == (
        "mailchimp",
        "member",
        subscriber_hash("exported@example.com"),
    )
    fields = record.fields
    assert fields == mc.member("exported@example.com") | {"_links": fields["_links"]}
    assert fields["email_address"] == "Exported@Example.com"
    assert fields["status"] == "unsubscribed"
    assert fields["merge_fields"]["FNAME"] == "Ada"
    assert fields["location"]["country_code"] == "FR"
    assert [tag["name"] for tag in fields["tags"]] == ["customer"]
    assert fields["marketing_permissions"] == [
        {"marketing_permission_id": ids["Email"], "text": "Email", "enabled": True}
    ]
    assert {"last_changed", "timestamp_signup", "timestamp_opt", "unsubscribe_reason"} <= set(fields)


def test_an_archived_member_is_exported_and_an_erased_one_is_not(mc, client, make_connector):
    mc.seed("archived@example.com", "erased@example.com")
    client.lists.delete_list_member(LIST, "archived@example.com")
    connector = make_connector()
    [archived] = connector.export_person(DataSubject(email="archived@example.com"))
    assert archived.fields["status"] == "archived"
    connector.erase_person(DataSubject(email="erased@example.com"))
    assert connector.export_person(DataSubject(email="erased@example.com")) == []


def test_an_export_answered_by_a_proxy_page_fails_as_a_connector_error(mc, make_connector):
    mc.seed("proxied@example.com")
    set_faults(mc.url, garbage_next=1)
    with pytest.raises(ConnectorError) as error:
        make_connector().export_person(DataSubject(email="proxied@example.com"))
    assert (error.value.code, error.value.retryable) == ("UNEXPECTED_RESPONSE", True)


def test_an_export_reads_every_tag_when_the_member_shows_only_50(mc, client, make_connector):
    names = [f"tag-{n:04}" for n in range(1050)]
    mc.seed({"email_address": "tagged@example.com", "tags": names})
    assert len(mc.member("tagged@example.com")["tags"]) == 50  # as Mailchimp: "Returns up to 50 tags"
    page = client.lists.get_list_member_tags(LIST, "tagged@example.com", count=5, offset=1048)
    assert ([tag["name"] for tag in page["tags"]], page["total_items"]) == (names[1048:], 1050)
    connector = make_connector()
    [record] = connector.export_person(DataSubject(email="tagged@example.com"))
    assert [tag["name"] for tag in record.fields["tags"]] == names
    assert record.fields["tags_count"] == 1050
    assert connector.transport.calls.by_kind["read member tags"] == 2


def test_write_and_erasure_reports_count_every_request_sent_retries_included(mc, make_connector, recorded_sleep):
    mc.seed("retried@example.com", "erased@example.com")
    connector = make_connector()
    set_faults(mc.url, fail_next=1)  # the first attempt of each write answers 503, the retry goes through
    unsubscribed = connector.push_unsubscribes([Unsubscribe(email="retried@example.com")])
    set_faults(mc.url, fail_next=1)
    erased = connector.erase_person(DataSubject(email="erased@example.com"))
    assert (unsubscribed.applied, unsubscribed.calls) == (1, 2)
    assert (erased.method, erased.calls) == ("permanent_delete", 2)
    assert len(recorded_sleep) == 2  # one backoff before each retry
