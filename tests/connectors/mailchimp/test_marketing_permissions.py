"""Marketing permissions (GDPR fields): off when a channel is forbidden, on only with proof, otherwise untouched."""

import pytest
import requests

from consentry.connectors.base import ConsentTag
from consentry.sdk.errors import ConfigurationError, InvalidInputError

from .conftest import LIST

FIELDS = ("Email", "Direct Mail", "Customized Online Advertising")


def seed_gdpr(mc, *emails, enabled=(), status="subscribed"):
    """Members of a GDPR audience, with the permissions named in `enabled` switched on."""
    ids = mc.gdpr(*FIELDS)
    mc.seed(
        *[
            {
                "email_address": email,
                "status": status,
                "marketing_permissions": [{"marketing_permission_id": ids[text], "enabled": True} for text in enabled],
            }
            for email in emails
        ]
    )
    return ids


def tags_for(connector, status, *, legal_basis=None, **known):
    return [
        ConsentTag(email=c.email, status=status, legal_basis=legal_basis, known={**c.attributes, **known})
        for c in connector.fetch_contacts()
    ]


def test_a_forbidden_channel_disables_its_permission_and_nothing_else(mc, make_connector):
    seed_gdpr(mc, "ann@example.com", enabled=FIELDS)
    connector = make_connector()

    report = connector.apply_consent(tags_for(connector, {"email": "forbidden", "postal": "allowed"}))

    assert report.failed == []
    assert mc.permissions("ann@example.com") == {
        "Email": False,
        "Direct Mail": True,
        "Customized Online Advertising": True,  # not a channel of Consentry's: left alone
    }
    assert connector.transport.calls.by_kind["update member"] == 1
    assert mc.member("ann@example.com")["status"] == "subscribed"


@pytest.mark.parametrize(
    ("known", "legal_basis", "status", "enabled"),
    [
        ({"resubscribe": True}, "consent", "subscribed", True),
        ({"resubscribe": True}, "legitimate_interest", "subscribed", False),
        ({"resubscribe": True}, None, "subscribed", False),
        ({}, "consent", "subscribed", False),
        ({"resubscribe": False}, "consent", "subscribed", False),
        ({"resubscribe": True}, "consent", "unsubscribed", False),
        ({"resubscribe": True}, "consent", "cleaned", False),
    ],
    ids=[
        "proven",
        "other basis",
        "no basis",
        "no flag",
        "flag off",
        "unsubscribed member",
        "cleaned member",
    ],
)
def test_a_permission_is_enabled_only_with_proof_of_a_newer_explicit_consent(
    mc, make_connector, known, legal_basis, status, enabled
):
    seed_gdpr(mc, "ann@example.com", status=status)
    connector = make_connector()

    connector.apply_consent(tags_for(connector, {"email": "allowed"}, legal_basis=legal_basis, **known))

    assert mc.permissions("ann@example.com")["Email"] is enabled
    assert mc.permissions("ann@example.com")["Direct Mail"] is False  # no verdict for postal: untouched
    assert connector.transport.calls.by_kind.get("update member", 0) == int(enabled)
    assert mc.member("ann@example.com")["status"] == status  # never subscribes anyone


def test_allowed_without_proof_leaves_an_enabled_permission_enabled(mc, make_connector):
    seed_gdpr(mc, "ann@example.com", enabled=("Email",))
    connector = make_connector()

    connector.apply_consent(tags_for(connector, {"email": "allowed_with_conditions", "postal": "allowed"}))

    assert mc.permissions("ann@example.com") == {
        "Email": True,
        "Direct Mail": False,
        "Customized Online Advertising": False,
    }
    assert "update member" not in connector.transport.calls.by_kind


def test_a_permission_already_in_the_wanted_state_costs_no_call(mc, make_connector):
    seed_gdpr(mc, *[f"p{n}@example.com" for n in range(5)])  # all disabled
    connector = make_connector()

    report = connector.apply_consent(tags_for(connector, {"email": "forbidden", "postal": "forbidden"}))

    assert report.calls == 1  # batch subscribe only
    assert set(connector.transport.calls.by_kind) == {"list members", "batch subscribe"}


def test_audiences_without_gdpr_fields_are_unaffected(mc, make_connector):
    mc.seed("ann@example.com", "bob@example.com")
    connector = make_connector()
    [contact, _] = connector.fetch_contacts()
    assert contact.attributes["marketing_permissions"] == []

    report = connector.apply_consent(
        tags_for(connector, {"email": "forbidden"}, legal_basis="consent", resubscribe=True)
    )

    assert report.failed == []
    assert report.applied == 2
    assert mc.member("ann@example.com")["marketing_permissions"] == []
    assert mc.tags("ann@example.com") == {"consentry:email:forbidden"}
    assert set(connector.transport.calls.by_kind) == {"list members", "batch subscribe"}


def test_permissions_are_left_alone_when_the_sync_does_not_pass_them(mc, make_connector):
    seed_gdpr(mc, "ann@example.com", enabled=("Email",))
    connector = make_connector()
    [contact] = connector.fetch_contacts()

    connector.apply_consent(
        [ConsentTag(email=contact.email, status={"email": "forbidden"}, known={"status": "subscribed"})]
    )

    assert mc.permissions("ann@example.com")["Email"] is True
    assert "update member" not in connector.transport.calls.by_kind


def test_the_mapping_names_permissions_by_text_or_id_and_can_ignore_them(mc, make_connector):
    ids = mc.gdpr("Newsletter", "Courrier", "Email")
    mc.seed(
        {
            "email_address": "ann@example.com",
            "marketing_permissions": [{"marketing_permission_id": i, "enabled": True} for i in ids.values()],
        }
    )
    connector = make_connector(marketing_permissions={"newsletter": "email", ids["Courrier"]: "postal", "Email": None})

    connector.apply_consent(tags_for(connector, {"email": "forbidden", "postal": "forbidden"}))

    assert mc.permissions("ann@example.com") == {"Newsletter": False, "Courrier": False, "Email": True}


def test_many_members_go_in_one_batch_polled_with_growing_waits(mc, make_connector, recorded_sleep):
    emails = [f"p{n}@example.com" for n in range(7)]
    seed_gdpr(mc, *emails, enabled=("Email", "Direct Mail"))
    requests.post(f"{mc.url}/_sandbox/batches", json={"polls_before_finish": 2}, timeout=5)
    connector = make_connector()

    report = connector.apply_consent(tags_for(connector, {"email": "forbidden", "postal": "allowed"}))

    assert report.failed == []
    assert all(
        mc.permissions(email) == {"Email": False, "Direct Mail": True, "Customized Online Advertising": False}
        for email in emails
    )
    calls = connector.transport.calls.by_kind
    assert calls["batch"] == 1
    assert calls["batch status"] == 3  # started, started, finished
    assert "update member" not in calls
    assert recorded_sleep == [5.0, 10.0, 20.0]
    seen = mc.calls()  # the sandbox counts the batch as the call, not the operations it runs
    assert seen["POST /3.0/batches"] == 1
    assert not any(kind.startswith("PATCH") for kind in seen)


def test_a_failed_batch_operation_is_reported_by_position(mc, make_connector):
    emails = [f"p{n}@example.com" for n in range(5)]
    seed_gdpr(mc, *emails, enabled=("Email",))
    connector = make_connector()
    tags = tags_for(connector, {"email": "forbidden"})
    forged = [{"marketing_permission_id": "0000000000", "text": "Email", "enabled": True}]  # not this audience's
    tags[3] = ConsentTag(
        email=tags[3].email, status=tags[3].status, known={**tags[3].known, "marketing_permissions": forged}
    )

    report = connector.apply_consent(tags)

    assert report.failed == [(3, "INVALID_RESOURCE")]
    assert [mc.permissions(email)["Email"] for email in emails] == [False, False, False, True, False]


def test_a_refused_direct_update_is_reported_by_position(mc, make_connector):
    seed_gdpr(mc, "ann@example.com", enabled=("Email",))
    connector = make_connector()
    [tag] = tags_for(connector, {"email": "forbidden"})
    forged = [{"marketing_permission_id": "0000000000", "text": "Email", "enabled": True}]
    tag = ConsentTag(email=tag.email, status=tag.status, known={**tag.known, "marketing_permissions": forged})

    report = connector.apply_consent([tag])

    assert report.failed == [(0, "INVALID_RESOURCE")]
    assert mc.permissions("ann@example.com")["Email"] is True


def test_an_unchanged_gdpr_audience_of_10000_members_still_syncs_within_20_write_calls(mc, make_connector):
    seed_gdpr(mc, *[f"bulk{n}@example.com" for n in range(10_000)], enabled=("Direct Mail",))
    connector = make_connector()
    contacts = list(connector.fetch_contacts())
    reads = connector.transport.calls.total
    tags = [
        ConsentTag(email=c.email, status={"email": "forbidden", "postal": "allowed"}, known=c.attributes)
        for c in contacts
    ]

    report = connector.apply_consent(tags)

    assert report.failed == []
    assert connector.transport.calls.total - reads <= 20
    assert set(connector.transport.calls.by_kind) == {"list members", "batch subscribe"}


def test_the_mapping_may_come_from_the_environment_as_json(mc, make_connector):
    seed_gdpr(mc, "ann@example.com", enabled=FIELDS)
    connector = make_connector(marketing_permissions='{"Customized Online Advertising": "email", "Email": "ignore"}')

    connector.apply_consent(tags_for(connector, {"email": "forbidden"}))

    assert mc.permissions("ann@example.com") == {
        "Email": True,
        "Direct Mail": True,
        "Customized Online Advertising": False,
    }


@pytest.mark.parametrize(
    "mapping",
    [{"Email": "carrier_pigeon"}, {"Email": "email", " email ": "sms"}, {"": "email"}, ["Email"], "{not json"],
    ids=["unknown channel", "same name twice", "blank name", "not a mapping", "not json"],
)
def test_a_bad_permission_mapping_is_a_configuration_error(make_connector, mapping):
    with pytest.raises(ConfigurationError, match="marketing_permissions"):
        make_connector(marketing_permissions=mapping)


@pytest.mark.parametrize(
    ("known", "field"),
    [
        ({"marketing_permissions": "Email"}, "marketing_permissions"),
        ({"marketing_permissions": [{"text": "Email", "enabled": True}]}, "marketing_permissions"),
        ({"marketing_permissions": [{"marketing_permission_id": "abc", "enabled": "yes"}]}, "marketing_permissions"),
        ({"resubscribe": "yes"}, "resubscribe"),
    ],
    ids=["not a list", "no id", "enabled not a bool", "flag not a bool"],
)
def test_malformed_known_state_is_refused_before_anything_is_written(mc, make_connector, known, field):
    seed_gdpr(mc, "ann@example.com")
    connector = make_connector()
    [tag] = tags_for(connector, {"email": "allowed"}, legal_basis="consent")
    before = connector.transport.calls.total

    with pytest.raises(InvalidInputError) as error:
        connector.apply_consent(
            [ConsentTag(email=tag.email, status=tag.status, legal_basis="consent", known={**tag.known, **known})]
        )

    assert error.value.field == field
    assert "@" not in str(error.value)
    assert connector.transport.calls.total == before


# -- the sandbox's GDPR fields -------------------------------------------------------------------------------------


def test_the_official_client_reads_and_writes_marketing_permissions(mc, client):
    ids = mc.gdpr(*FIELDS)
    created = client.lists.set_list_member(
        LIST,
        "jane@example.com",
        {
            "email_address": "jane@example.com",
            "status_if_new": "subscribed",
            "marketing_permissions": [{"marketing_permission_id": ids["Email"], "enabled": True}],
        },
    )
    assert {p["text"]: p["enabled"] for p in created["marketing_permissions"]} == {
        "Email": True,
        "Direct Mail": False,
        "Customized Online Advertising": False,
    }
    updated = client.lists.update_list_member(
        LIST,
        "jane@example.com",
        {"marketing_permissions": [{"marketing_permission_id": ids["Email"], "enabled": False}]},
    )
    assert {p["text"]: p["enabled"] for p in updated["marketing_permissions"]}["Email"] is False
    assert client.lists.get_list(LIST)["marketing_permissions"] is True


@pytest.mark.parametrize("gdpr", [False, True], ids=["audience without GDPR fields", "unknown permission id"])
def test_a_permission_the_audience_does_not_have_is_a_400_problem(mc, gdpr):
    if gdpr:
        mc.gdpr("Email")
    mc.seed("ann@example.com")
    answer = mc.api(
        "PATCH",
        f"/lists/{LIST}/members/ann@example.com",
        json={"marketing_permissions": [{"marketing_permission_id": "0000000000", "enabled": False}]},
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "marketing_permissions"
    assert ("not have marketing permissions" in answer.json()["detail"]) is not gdpr


def test_batch_subscribe_does_not_take_marketing_permissions(mc):
    ids = mc.gdpr("Email")
    mc.seed("ann@example.com")
    permission = [{"marketing_permission_id": ids["Email"], "enabled": True}]
    answer = mc.api(
        "POST",
        f"/lists/{LIST}",
        json={
            "members": [
                {"email_address": "ann@example.com", "status": "subscribed", "marketing_permissions": permission},
                {"email_address": "new@example.com", "status": "subscribed", "marketing_permissions": permission},
            ],
            "update_existing": True,
        },
    ).json()
    assert answer["total_created"] == answer["total_updated"] == 1
    assert mc.permissions("ann@example.com") == mc.permissions("new@example.com") == {"Email": False}
