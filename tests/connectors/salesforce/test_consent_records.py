"""The rules behind Salesforce's consent records, without a server: which row speaks for a person, what an
Individual's flags mean, which writes an opt-out needs, and when a proven consent may become an OptIn."""

from datetime import UTC, datetime

from consentry.connectors.salesforce.consent_records import (
    EVERY_CHANNEL,
    PLACEHOLDER_NAME,
    individual_name,
    opt_in_types,
    plan,
    read_party,
    types_for,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PARTY = "0PK5g0000000001GAA"
MARKETING = "0ZW5g0000000001AAA"
BILLING = "0ZW5g0000000002AAA"


def row(status, kind="Email", *, captured="2024-01-01T00:00:00.000+0000", purpose=None, start=None, end=None, id="1"):
    return {
        "Id": f"0ZY5g000000000{id}AAA",
        "PartyId": PARTY,
        "ContactPointType": kind,
        "PrivacyConsentStatus": status,
        "DataUsePurposeId": purpose,
        "CaptureDate": captured,
        "EffectiveFrom": start,
        "EffectiveTo": end,
        "SystemModstamp": "2024-01-02T00:00:00.000+0000",
    }


def test_a_global_opt_out_on_the_individual_covers_every_channel():
    for flag in ("HasOptedOutSolicit", "HasOptedOutProcessing", "ShouldForget"):
        party = read_party({"Id": PARTY, flag: True}, [row("OptIn")], None, NOW)
        assert party.opted_out == EVERY_CHANNEL
        assert party.subscribed == frozenset()
    tracking_only = read_party({"Id": PARTY, "HasOptedOutTracking": True}, [], None, NOW)
    assert tracking_only.opted_out == frozenset()


def test_each_contact_point_type_maps_to_its_channels():
    party = read_party(
        None, [row("OptOut", "Phone"), row("OptIn", "Email", id="2"), row("OptOut", "Social", id="3")], None, NOW
    )
    assert party.opted_out == {"sms", "automated_call", "phone_human"}
    assert party.subscribed == {"email"}
    undecided = read_party(None, [row("Seen"), row("NotSeen", "Phone", id="2")], None, NOW)
    assert (undecided.opted_out, undecided.subscribed) == (frozenset(), frozenset())


def test_the_latest_capture_in_force_speaks_and_ended_rows_do_not():
    newer_opt_in = [
        row("OptOut", captured="2023-01-01T00:00:00Z"),
        row("OptIn", captured="2024-06-01T00:00:00Z", id="2"),
    ]
    assert read_party(None, newer_opt_in, None, NOW).subscribed == {"email"}
    newer_opt_out = [
        row("OptIn", captured="2023-01-01T00:00:00Z"),
        row("OptOut", captured="2024-06-01T00:00:00Z", id="2"),
    ]
    assert read_party(None, newer_opt_out, None, NOW).opted_out == {"email"}
    ended = [row("OptOut", end="2025-01-01T00:00:00Z")]
    assert read_party(None, ended, None, NOW).opted_out == frozenset()
    scheduled = [row("OptOut", start="2026-01-01T00:00:00Z")]
    assert read_party(None, scheduled, None, NOW).opted_out == frozenset()


def test_purposes_an_opt_out_in_any_purpose_wins_unless_one_is_configured():
    rows = [row("OptIn", purpose=MARKETING), row("OptOut", purpose=BILLING, id="2")]
    assert read_party(None, rows, None, NOW).opted_out == {"email"}
    configured = read_party(None, rows, MARKETING, NOW)
    assert configured.opted_out == frozenset()
    assert configured.subscribed == {"email"}
    general = [row("OptIn", purpose=MARKETING), row("OptOut", id="2")]  # no purpose: applies to every purpose
    assert read_party(None, general, MARKETING, NOW).opted_out == {"email"}
    assert read_party(None, general, MARKETING[:15], NOW).opted_out == {"email"}  # 15- and 18-character ids


def test_an_opt_out_creates_updates_or_leaves_rows():
    new = plan({PARTY: {"Email", "Phone"}}, [], "OptOut", purpose=MARKETING, now=NOW)
    assert [(r["ContactPointType"], r["PrivacyConsentStatus"], r["DataUsePurposeId"]) for r in new.creates] == [
        ("Email", "OptOut", MARKETING),
        ("Phone", "OptOut", MARKETING),
    ]
    assert new.creates[0]["CaptureSource"] == "Consentry"
    assert new.creates[0]["CaptureDate"] == new.creates[0]["EffectiveFrom"] == "2025-06-01T12:00:00.000Z"
    assert new.creates[0]["PartyId"] == PARTY
    assert "EffectiveTo" not in new.creates[0]
    existing = plan({PARTY: {"Email"}}, [row("OptIn", purpose=MARKETING)], "OptOut", purpose=MARKETING, now=NOW)
    assert existing.creates == []
    assert [(u["id"], u["PrivacyConsentStatus"], u["EffectiveTo"]) for u in existing.updates] == [
        ("0ZY5g0000000001AAA", "OptOut", None)
    ]
    done = plan({PARTY: {"Email"}}, [row("OptOut", purpose=MARKETING)], "OptOut", purpose=MARKETING, now=NOW)
    assert (done.creates, done.updates, done.unchanged) == ([], [], 1)


def test_an_opt_out_that_ends_or_belongs_elsewhere_is_not_enough():
    ending = plan({PARTY: {"Email"}}, [row("OptOut", end="2030-01-01T00:00:00Z")], "OptOut", purpose=None, now=NOW)
    assert [u["EffectiveTo"] for u in ending.updates] == [None]  # made open-ended
    ended = plan({PARTY: {"Email"}}, [row("OptOut", end="2024-01-01T00:00:00Z")], "OptOut", purpose=None, now=NOW)
    assert len(ended.creates) == 1  # ended rows stay as history
    assert ended.updates == []
    elsewhere = plan({PARTY: {"Email"}}, [row("OptOut", purpose=BILLING)], "OptOut", purpose=MARKETING, now=NOW)
    assert len(elsewhere.creates) == 1
    newest = plan(
        {PARTY: {"Email"}},
        [row("OptOut", captured="2023-01-01T00:00:00Z"), row("OptIn", captured="2024-01-01T00:00:00Z", id="2")],
        "OptOut",
        purpose=None,
        now=NOW,
    )
    assert [u["id"] for u in newest.updates] == ["0ZY5g0000000002AAA"]  # the row that speaks is changed


def test_channels_and_proven_consent_map_to_contact_point_types():
    assert types_for({"email"}) == {"Email"}
    assert types_for({"sms", "phone_human"}) == {"Phone"}
    assert types_for({"fax"}) == frozenset()  # no fax contact point type: the Contact field holds it
    assert types_for({"all"}) == {"Email", "Phone", "MailingAddress"}
    status = {"email": "allowed", "sms": "allowed", "phone_human": "forbidden"}
    assert opt_in_types(status) == {"Email"}  # Phone would speak for calls too
    assert opt_in_types({"email": "allowed_with_conditions", "sms": "allowed", "phone_human": "allowed"}) == {
        "Email",
        "Phone",
    }
    assert opt_in_types({"email": "allowed", "sms": "allowed"}, only={"sms"}) == {"Phone"}
    assert opt_in_types({"email": "forbidden"}) == frozenset()


def test_an_individual_is_never_named_after_an_address_or_a_number():
    assert individual_name("Durand") == "Durand"
    assert individual_name("jane@example.com") == PLACEHOLDER_NAME
    assert individual_name("06 12 34 56 78") == PLACEHOLDER_NAME
    assert individual_name("  ") == PLACEHOLDER_NAME
    assert individual_name(None) == PLACEHOLDER_NAME
    assert len(individual_name("x" * 200)) == 80
