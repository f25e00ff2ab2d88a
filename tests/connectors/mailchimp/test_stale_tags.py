"""When a verdict changes, the tag of the old verdict comes off: through the tag's static segment, 500 a call."""

import pytest

from consentry.connectors.base import ConsentTag
from consentry.sdk.errors import InvalidInputError

from .conftest import LIST


def tagged(connector, status, *, previous=None, **known):
    """One ConsentTag per member as the connector reads it, with Consentry's last written verdicts."""
    tags = []
    for contact in connector.fetch_contacts():
        state = {"status": contact.attributes["status"], **known}
        if previous is not None:
            state["previous"] = previous
        tags.append(ConsentTag(email=contact.email, status=status, known=state))
    return tags


def test_a_changed_verdict_removes_the_old_tag_and_adds_the_new_one(mc, make_connector):
    mc.seed("ann@example.com", "bob@example.com")
    mc.api("POST", f"/lists/{LIST}/members/ann@example.com/tags", json={"tags": [{"name": "vip", "status": "active"}]})
    connector = make_connector()
    connector.apply_consent(tagged(connector, {"email": "allowed", "sms": "allowed"}))
    assert mc.tags("ann@example.com") == {"vip", "consentry:email:allowed", "consentry:sms:allowed"}

    report = connector.apply_consent(
        tagged(connector, {"email": "forbidden", "sms": "allowed"}, previous={"email": "allowed", "sms": "allowed"})
    )

    assert report.failed == []
    assert mc.tags("ann@example.com") == {"vip", "consentry:email:forbidden", "consentry:sms:allowed"}
    assert mc.tags("bob@example.com") == {"consentry:email:forbidden", "consentry:sms:allowed"}
    assert connector.transport.calls.by_kind["remove tag"] == 1  # both members in one call
    segments = {
        s["name"]: s for s in mc.api("GET", f"/lists/{LIST}/segments", params={"type": "static"}).json()["segments"]
    }
    assert segments["consentry:email:allowed"]["member_count"] == 0
    assert segments["consentry:email:forbidden"]["member_count"] == 2


def test_unchanged_verdicts_cost_no_removal_call(mc, make_connector):
    mc.seed("ann@example.com", "bob@example.com")
    connector = make_connector()
    connector.apply_consent(tagged(connector, {"email": "allowed"}))
    before = dict(connector.transport.calls.by_kind)

    report = connector.apply_consent(tagged(connector, {"email": "allowed"}, previous={"email": "allowed"}))

    assert report.calls == 1
    after = connector.transport.calls.by_kind
    assert after["batch subscribe"] == before["batch subscribe"] + 1
    assert "list tags" not in after
    assert "remove tag" not in after
    assert not any("segments" in kind for kind in mc.calls())


def test_a_channel_without_a_verdict_now_keeps_its_tag(mc, make_connector):
    mc.seed("ann@example.com")
    connector = make_connector()
    connector.apply_consent(tagged(connector, {"email": "allowed", "sms": "forbidden"}))

    connector.apply_consent(tagged(connector, {"email": "allowed"}, previous={"email": "allowed", "sms": "forbidden"}))

    assert mc.tags("ann@example.com") == {"consentry:email:allowed", "consentry:sms:forbidden"}
    assert "remove tag" not in connector.transport.calls.by_kind


def test_stale_tags_read_on_the_member_are_removed_without_previous(mc, make_connector):
    """Tags written before `previous` was recorded: the member's own tags, as read, show them."""
    mc.seed("ann@example.com")
    connector = make_connector()
    connector.apply_consent(tagged(connector, {"email": "allowed"}))
    [contact] = connector.fetch_contacts()

    connector.apply_consent([ConsentTag(email=contact.email, status={"email": "forbidden"}, known=contact.attributes)])

    assert mc.tags("ann@example.com") == {"consentry:email:forbidden"}


def test_removals_go_500_members_a_call_and_tag_ids_are_looked_up_once(mc, make_connector):
    emails = [f"p{n}@example.com" for n in range(501)]
    mc.seed(*emails)
    connector = make_connector()
    connector.apply_consent(tagged(connector, {"email": "allowed", "sms": "allowed"}))

    report = connector.apply_consent(
        tagged(connector, {"email": "forbidden", "sms": "forbidden"}, previous={"email": "allowed", "sms": "allowed"})
    )

    assert report.failed == []
    assert connector.transport.calls.by_kind["remove tag"] == 4  # two tags, 501 members: 500 + 1 each
    assert connector.transport.calls.by_kind["list tags"] == 1
    assert (
        mc.tags("p0@example.com")
        == mc.tags("p500@example.com")
        == {"consentry:email:forbidden", "consentry:sms:forbidden"}
    )


def test_a_tag_deleted_in_mailchimp_is_nothing_left_to_remove(mc, make_connector):
    mc.seed("ann@example.com")
    connector = make_connector()
    connector.apply_consent(tagged(connector, {"email": "allowed"}))
    connector.apply_consent(tagged(connector, {"email": "forbidden"}, previous={"email": "allowed"}))  # ids now known
    segments = mc.api("GET", f"/lists/{LIST}/segments", params={"type": "static"}).json()["segments"]
    [forbidden] = [s for s in segments if s["name"] == "consentry:email:forbidden"]
    assert mc.api("DELETE", f"/lists/{LIST}/segments/{forbidden['id']}").status_code == 204

    report = connector.apply_consent(tagged(connector, {"email": "allowed"}, previous={"email": "forbidden"}))

    assert report.failed == []
    assert mc.tags("ann@example.com") == {"consentry:email:allowed"}
    assert connector.transport.calls.by_kind["list tags"] == 1  # the cached id was tried, and its 404 understood


def test_tags_that_mailchimp_does_not_have_cost_one_look_up_and_no_removal(mc, make_connector):
    mc.seed("ann@example.com")
    connector = make_connector()

    report = connector.apply_consent(
        tagged(connector, {"email": "forbidden", "sms": "forbidden"}, previous={"email": "allowed", "sms": "allowed"})
    )

    assert report.failed == []
    assert connector.transport.calls.by_kind["list tags"] == 1
    assert "remove tag" not in connector.transport.calls.by_kind


def test_a_tag_created_after_a_look_up_is_found_by_the_next_write(mc, make_connector):
    mc.seed("ann@example.com", "bob@example.com")
    connector = make_connector()
    ann, bob = tagged(connector, {"email": "forbidden"}, previous={"email": "allowed"})
    connector.apply_consent([ann])  # looks tags up: consentry:email:allowed does not exist yet
    connector.apply_consent([ConsentTag(email=bob.email, status={"email": "allowed"}, known={"status": "subscribed"})])
    assert mc.tags("bob@example.com") == {"consentry:email:allowed"}

    connector.apply_consent([bob])

    assert mc.tags("bob@example.com") == {"consentry:email:forbidden"}
    assert connector.transport.calls.by_kind["list tags"] == 2


@pytest.mark.parametrize(
    "previous",
    [{"email": "maybe"}, ["email", "allowed"], {"email": None}, {"": "allowed"}],
    ids=["unknown verdict", "not a mapping", "no verdict", "blank channel"],
)
def test_a_malformed_previous_is_refused_before_anything_is_written(mc, make_connector, previous):
    mc.seed("ann@example.com", "bob@example.com")
    connector = make_connector()
    good, bad = tagged(connector, {"email": "allowed"})
    bad = ConsentTag(email=bad.email, status=bad.status, known={**bad.known, "previous": previous})
    before = connector.transport.calls.total

    with pytest.raises(InvalidInputError) as error:
        connector.apply_consent([good, bad])

    assert error.value.field == "previous"
    assert "@" not in str(error.value)
    assert connector.transport.calls.total == before
    assert mc.tags("ann@example.com") == set()
