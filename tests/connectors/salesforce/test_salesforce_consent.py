"""Salesforce's consent data model (`consent_records: individual`) against the sandbox on 127.0.0.1: unsubscribes
write OptOut rows idempotently, reads report what Individuals and their rows say, nothing re-subscribes anyone
without proof, and with the mode off those objects are never touched."""

import itertools
import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests

from consentry.connectors.base import ConsentTag, Unsubscribe
from consentry.connectors.conformance import ConnectorConformance
from consentry.connectors.salesforce import SalesforceConnector, outbound
from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.errors import ConfigurationError, ConnectorError
from consentry.sdk.webhooks import WebhookRequest

COLLECTIONS = "/services/data/<version>/composite/sobjects"
PHONE_CHANNELS = {"sms", "automated_call", "phone_human"}


@pytest.fixture
def sandbox():
    with ServerThread(create_app(page_size=5)) as server:
        yield server


@pytest.fixture
def connector_defaults():
    return {"consent_records": "individual"}


def seed(sandbox, **records) -> dict[str, list[str]]:
    answer = requests.post(f"{sandbox.url}/_sandbox/seed", json=records, timeout=60)
    answer.raise_for_status()
    return answer.json()["ids"]


def person(sandbox, email, *, object_type="Contact", individual=None, **fields) -> str:
    """One Contact (or Lead), linked to `individual` when given; its id."""
    record = {"LastName": "Durand", "Email": email, **fields}
    if object_type == "Lead":
        record["Company"] = "Acme"
    if individual:
        record["IndividualId"] = individual
    return seed(sandbox, **{object_type: [record]})[object_type][0]


def individual(sandbox, **flags) -> str:
    return seed(sandbox, Individual=[{"LastName": "Durand", **flags}])["Individual"][0]


def consent_row(sandbox, party, kind="Email", status="OptIn", **fields) -> str:
    row = {
        "Name": f"{kind} consent",
        "PartyId": party,
        "ContactPointType": kind,
        "PrivacyConsentStatus": status,
        "CaptureDate": "2024-03-01T09:00:00Z",
        "CaptureSource": "Web form",
        "EffectiveFrom": "2024-03-01T09:00:00Z",
        **fields,
    }
    return seed(sandbox, ContactPointTypeConsent=[row])["ContactPointTypeConsent"][0]


def records(sandbox, object_type) -> list[dict]:
    answer = requests.get(f"{sandbox.url}/_sandbox/records", params={"type": object_type}, timeout=30)
    return answer.json()["records"]


def by_id(sandbox, object_type) -> dict[str, dict]:
    return {r["Id"]: r for r in records(sandbox, object_type)}


def calls(sandbox) -> dict[str, int]:
    return requests.get(f"{sandbox.url}/_sandbox/calls", timeout=5).json()["calls"]


def reset_calls(sandbox) -> None:
    requests.post(f"{sandbox.url}/_sandbox/calls/reset", timeout=5).raise_for_status()


def writes(sandbox) -> dict[str, int]:
    counted = calls(sandbox)
    return {method: counted.get(f"{method} {COLLECTIONS}", 0) for method in ("POST", "PATCH")}


# -- configuration ------------------------------------------------------------------------------------------------


def test_the_mode_is_off_unless_configured_and_refuses_unknown_values(make_connector):
    assert make_connector(consent_records="off").consent_mode is False
    assert SalesforceConnector({"client_id": "x"}).consent_mode is False
    with pytest.raises(ConfigurationError):
        make_connector(consent_records="contact_point_consent")
    with pytest.raises(ConfigurationError):
        make_connector(data_use_purpose_id="marketing")  # an id, not a name


# -- unsubscribes -------------------------------------------------------------------------------------------------


def test_an_unsubscribe_creates_opt_out_rows_for_each_channel(sandbox, make_connector):
    party = individual(sandbox)
    contact = person(sandbox, "jane@example.com", individual=party)
    before = datetime.now(UTC) - timedelta(seconds=1)
    report = make_connector().push_unsubscribes(
        [Unsubscribe(email="Jane@Example.com", channels=frozenset({"email", "sms"}))]
    )
    assert report.failed == []
    rows = sorted(records(sandbox, "ContactPointTypeConsent"), key=lambda r: r["ContactPointType"])
    assert [(r["ContactPointType"], r["PrivacyConsentStatus"], r["PartyId"]) for r in rows] == [
        ("Email", "OptOut", party),
        ("Phone", "OptOut", party),
    ]
    for row in rows:
        assert row["CaptureSource"] == "Consentry"
        assert row["CaptureContactPointType"] == "Web"
        assert datetime.fromisoformat(row["CaptureDate"]) >= before
        assert row["EffectiveFrom"] == row["CaptureDate"]
        assert row["EffectiveTo"] is None
        assert row["DataUsePurposeId"] is None
    record = by_id(sandbox, "Contact")[contact]
    assert (record["HasOptedOutOfEmail"], record["DoNotCall"], record["HasOptedOutOfFax"]) == (True, True, False)
    assert report.applied == 3  # the Contact and two consent rows


def test_an_unsubscribe_updates_the_opt_in_row_in_place(sandbox, make_connector):
    party = individual(sandbox)
    person(sandbox, "jane@example.com", individual=party)
    opt_in = consent_row(sandbox, party, "Email", "OptIn", EffectiveTo="2030-01-01T00:00:00Z")
    report = make_connector().push_unsubscribes([Unsubscribe(email="jane@example.com")])
    assert report.failed == []
    [row] = records(sandbox, "ContactPointTypeConsent")
    assert row["Id"] == opt_in
    assert row["PrivacyConsentStatus"] == "OptOut"
    assert row["EffectiveTo"] is None
    assert row["CaptureSource"] == "Consentry"
    assert row["CaptureDate"] > "2025"


def test_running_an_unsubscribe_again_writes_no_consent_row(sandbox, make_connector):
    party = individual(sandbox)
    person(sandbox, "jane@example.com", individual=party)
    person(sandbox, "jane@example.com", object_type="Lead", individual=party)
    connector = make_connector(objects=["Contact", "Lead"])
    unsubscribe = [Unsubscribe(email="jane@example.com", channels=frozenset({"email", "sms"}))]
    connector.push_unsubscribes(unsubscribe)
    first = by_id(sandbox, "ContactPointTypeConsent")
    assert len(first) == 2  # one Individual behind both records: one row per contact point type
    reset_calls(sandbox)
    again = connector.push_unsubscribes(unsubscribe)
    assert by_id(sandbox, "ContactPointTypeConsent") == first  # not even a new SystemModstamp
    assert writes(sandbox) == {"POST": 0, "PATCH": 1}  # the Contact and Lead fields, as with the mode off
    assert again.unchanged == 2
    assert again.applied == 2
    assert again.failed == []


def test_unsubscribing_from_everything_marks_the_individual_dont_market_once(sandbox, make_connector):
    party = individual(sandbox)
    person(sandbox, "jane@example.com", individual=party)
    connector = make_connector()
    connector.push_unsubscribes([Unsubscribe(email="jane@example.com", channels=frozenset({"all"}))])
    assert by_id(sandbox, "Individual")[party]["HasOptedOutSolicit"] is True
    kinds = {(r["ContactPointType"], r["PrivacyConsentStatus"]) for r in records(sandbox, "ContactPointTypeConsent")}
    assert kinds == {("Email", "OptOut"), ("Phone", "OptOut"), ("MailingAddress", "OptOut")}
    stamp = by_id(sandbox, "Individual")[party]["SystemModstamp"]
    reset_calls(sandbox)
    again = connector.push_unsubscribes([Unsubscribe(email="jane@example.com", channels=frozenset({"all"}))])
    assert by_id(sandbox, "Individual")[party]["SystemModstamp"] == stamp
    assert again.unchanged == 4  # three rows and the flag
    assert writes(sandbox) == {"POST": 0, "PATCH": 1}


def test_records_without_an_individual_get_one_without_contact_details(sandbox, make_connector):
    contact = person(sandbox, "jane@example.com", LastName="jane@example.com")  # web-to-lead puts odd things there
    lead = person(sandbox, "jane@example.com", object_type="Lead", LastName="Durand")
    other = person(sandbox, "paul@example.com", LastName="0612345678")
    connector = make_connector(objects=["Contact", "Lead"])
    report = connector.push_unsubscribes([Unsubscribe(email="jane@example.com"), Unsubscribe(email="paul@example.com")])
    assert report.failed == []
    individuals = by_id(sandbox, "Individual")
    assert sorted(i["LastName"] for i in individuals.values()) == ["Consentry", "Durand"]
    for created in individuals.values():
        assert all("@" not in str(value) and "0612" not in str(value) for value in created.values())
    jane = by_id(sandbox, "Contact")[contact]["IndividualId"]
    assert by_id(sandbox, "Lead")[lead]["IndividualId"] == jane  # one person, one Individual
    assert by_id(sandbox, "Contact")[other]["IndividualId"] not in (None, jane)
    rows = records(sandbox, "ContactPointTypeConsent")
    assert sorted((r["PartyId"], r["PrivacyConsentStatus"]) for r in rows) == sorted(
        [(jane, "OptOut"), (by_id(sandbox, "Contact")[other]["IndividualId"], "OptOut")]
    )
    connector.push_unsubscribes([Unsubscribe(email="jane@example.com"), Unsubscribe(email="paul@example.com")])
    assert len(records(sandbox, "Individual")) == 2
    assert len(records(sandbox, "ContactPointTypeConsent")) == 2


def test_an_individual_whose_link_failed_is_deleted_so_that_the_retry_leaves_no_duplicate(sandbox, make_connector):
    contact = person(sandbox, "jane@example.com")
    connector = make_connector()
    calls_through = connector._api

    def down_when_linking(method, path, **options):
        if method == "PATCH" and path == "/composite/sobjects" and not getattr(connector, "linked_once", False):
            connector.linked_once = True
            raise ConnectorError("salesforce: 503 Service Unavailable", status=503, retryable=True)
        return calls_through(method, path, **options)

    connector._api = down_when_linking
    with pytest.raises(ConnectorError):
        connector.push_unsubscribes([Unsubscribe(email="jane@example.com")])  # the job fails, and will be retried
    assert records(sandbox, "Individual") == []  # created, then deleted since nothing links to it
    assert by_id(sandbox, "Contact")[contact]["IndividualId"] is None
    assert connector.push_unsubscribes([Unsubscribe(email="jane@example.com")]).failed == []  # the retry
    [party] = by_id(sandbox, "Individual")
    assert by_id(sandbox, "Contact")[contact]["IndividualId"] == party


def lock(sandbox, ids: list[str], *, locked: bool = True) -> None:
    answer = requests.post(f"{sandbox.url}/_sandbox/locks", json={"ids": ids, "locked": locked}, timeout=5)
    answer.raise_for_status()


@pytest.mark.parametrize("bulk_threshold", [2000, 1], ids=["collections", "bulk"])
def test_a_locked_record_gets_no_consent_row_for_the_individual_deleted_after_its_failed_link(
    sandbox, make_connector, bulk_threshold
):
    """Jane's Contact is held by another transaction: her new Individual is created, the link fails
    (UNABLE_TO_LOCK_ROW) and the Individual is deleted again, so no consent row may name it (Salesforce would
    refuse one, and so does the sandbox); she is reported failed at her own position with the link's code and
    nothing of hers counts as applied. Once the row is released, the retry writes her Individual and her rows once."""
    jane = person(sandbox, "jane@example.com")  # first in the look-up, second in the input
    paul = person(sandbox, "paul@example.com")
    lock(sandbox, [jane])
    connector = make_connector(bulk_threshold=bulk_threshold)
    channels = frozenset({"email", "sms"})
    items = [
        Unsubscribe(email="paul@example.com", channels=channels),
        Unsubscribe(email="jane@example.com", channels=channels),
    ]
    report = connector.push_unsubscribes(items)
    assert report.failed == [(1, "UNABLE_TO_LOCK_ROW")]
    assert report.applied == 1 + 1 + 2  # Paul's Individual, his Contact, his Email and Phone rows
    [pauls] = by_id(sandbox, "Individual")
    assert by_id(sandbox, "Contact")[paul]["IndividualId"] == pauls
    assert by_id(sandbox, "Contact")[jane]["IndividualId"] is None
    rows = requests.get(
        f"{sandbox.url}/_sandbox/records", params={"type": "ContactPointTypeConsent", "deleted": "true"}, timeout=30
    ).json()["records"]
    assert sorted((r["PartyId"], r["ContactPointType"]) for r in rows) == [(pauls, "Email"), (pauls, "Phone")]
    lock(sandbox, [jane], locked=False)
    retry = connector.push_unsubscribes(items)
    assert retry.failed == []
    assert retry.applied == 1 + 2 + 2  # Jane's Individual, both Contacts' opt-out fields, Jane's rows
    assert retry.unchanged == 2  # Paul's rows
    individuals = by_id(sandbox, "Individual")
    janes = by_id(sandbox, "Contact")[jane]["IndividualId"]
    assert sorted(individuals) == sorted([pauls, janes])
    rows = records(sandbox, "ContactPointTypeConsent")
    assert sorted((r["PartyId"], r["ContactPointType"]) for r in rows) == sorted(
        [(pauls, "Email"), (pauls, "Phone"), (janes, "Email"), (janes, "Phone")]
    )
    assert all(r["PrivacyConsentStatus"] == "OptOut" for r in rows)


def test_a_record_without_an_individual_joins_the_one_of_its_twin(sandbox, make_connector):
    party = individual(sandbox)
    person(sandbox, "jane@example.com", individual=party)
    lead = person(sandbox, "jane@example.com", object_type="Lead")
    make_connector(objects=["Contact", "Lead"]).push_unsubscribes([Unsubscribe(email="jane@example.com")])
    assert list(by_id(sandbox, "Individual")) == [party]
    assert by_id(sandbox, "Lead")[lead]["IndividualId"] == party


def test_without_creating_individuals_such_records_are_reported_and_still_opted_out(sandbox, make_connector, caplog):
    contact = person(sandbox, "jane@example.com")
    with caplog.at_level(logging.WARNING, logger="consentry.salesforce"):
        report = make_connector(create_individuals=False).push_unsubscribes(
            [Unsubscribe(email="nobody@example.com"), Unsubscribe(email="jane@example.com")]
        )
    assert report.failed == [(1, "NO_INDIVIDUAL")]
    assert report.not_found == 1
    assert by_id(sandbox, "Contact")[contact]["HasOptedOutOfEmail"] is True
    assert records(sandbox, "Individual") == []
    assert records(sandbox, "ContactPointTypeConsent") == []
    assert "1 records" in caplog.text
    assert "@" not in caplog.text


def test_a_data_use_purpose_is_written_and_other_purposes_are_left_alone(sandbox, make_connector):
    [marketing, billing] = seed(
        sandbox, DataUsePurpose=[{"Name": "Marketing"}, {"Name": "Billing", "CanDataSubjectOptOut": False}]
    )["DataUsePurpose"]
    party = individual(sandbox)
    person(sandbox, "jane@example.com", individual=party)
    billing_row = consent_row(sandbox, party, "Email", "OptIn", DataUsePurposeId=billing)
    connector = make_connector(data_use_purpose_id=marketing)
    connector.push_unsubscribes([Unsubscribe(email="jane@example.com")])
    rows = by_id(sandbox, "ContactPointTypeConsent")
    assert rows[billing_row]["PrivacyConsentStatus"] == "OptIn"  # invoices by email still go out
    [new] = [r for r in rows.values() if r["Id"] != billing_row]
    assert (new["DataUsePurposeId"], new["PrivacyConsentStatus"]) == (marketing, "OptOut")
    # reading: a Billing opt-out says nothing about marketing once the purpose is configured, and all without it
    other = individual(sandbox)
    consent_row(sandbox, other, "Email", "OptOut", DataUsePurposeId=billing)
    consent_row(sandbox, other, "Email", "OptIn", DataUsePurposeId=marketing)
    paul = person(sandbox, "paul@example.com", individual=other)
    [configured] = [c for c in connector.fetch_contacts() if c.record_id == paul]
    assert (configured.opted_out, configured.subscribed) == (frozenset(), {"email"})
    [every_purpose] = [c for c in make_connector().fetch_contacts() if c.record_id == paul]
    assert (every_purpose.opted_out, every_purpose.subscribed) == ({"email"}, frozenset())


def test_unsubscribing_many_people_costs_the_fewest_calls_200_records_allow():
    with ServerThread(create_app(page_size=2000)) as server:
        parties = seed(server, Individual=[{"LastName": f"P{n}"} for n in range(1000)])["Individual"]
        seed(
            server,
            Contact=[
                {"LastName": f"P{n}", "Email": f"p{n}@example.com", "IndividualId": party}
                for n, party in enumerate(parties)
            ],
        )
        connector = SalesforceConnector(
            {
                "login_url": server.url,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "objects": ["Contact"],
                "consent_records": "individual",
            }
        )
        reset_calls(server)
        unsubscribes = [Unsubscribe(email=f"p{n}@example.com") for n in range(1000)]
        report = connector.push_unsubscribes(unsubscribes)
        assert report.failed == []
        assert report.applied == 2000
        # 1,000 Contact updates and 1,000 new consent rows: 2,000 records at 200 a call is 10 calls at least, and
        # creates (POST) and updates (PATCH) cannot share one.
        assert writes(server) == {"POST": 5, "PATCH": 5}
        assert calls(server)["GET /services/data/<version>/query"] == 10  # 5 by address, 5 for consent rows
        assert len(records(server, "ContactPointTypeConsent")) == 1000
        reset_calls(server)
        connector.push_unsubscribes(unsubscribes)
        assert writes(server) == {"POST": 0, "PATCH": 5}  # the Contact fields only, as with the mode off
        reset_calls(server)
        contacts = list(connector.fetch_contacts())
        assert all(c.opted_out == {"email"} for c in contacts)
        # one page of 1,000 records, then the Individuals and their rows, 200 ids a query
        assert calls(server)["GET /services/data/<version>/query"] == 11


def test_above_the_bulk_threshold_new_rows_go_in_one_bulk_insert_job(sandbox, make_connector):
    parties = seed(sandbox, Individual=[{"LastName": f"P{n}"} for n in range(4)])["Individual"]
    seed(
        sandbox,
        Contact=[{"LastName": "P", "Email": f"p{n}@example.com", "IndividualId": p} for n, p in enumerate(parties)],
    )
    connector = make_connector(bulk_threshold=3)
    report = connector.push_unsubscribes([Unsubscribe(email=f"p{n}@example.com") for n in range(4)])
    assert report.failed == []
    assert report.applied == 8
    assert connector.transport.calls.by_kind["bulk create"] == 2  # the Contact update job and the insert job
    rows = records(sandbox, "ContactPointTypeConsent")
    assert sorted((r["PartyId"], r["PrivacyConsentStatus"], r["CaptureSource"]) for r in rows) == sorted(
        (p, "OptOut", "Consentry") for p in parties
    )
    assert writes(sandbox) == {"POST": 0, "PATCH": 0}


# -- reading ------------------------------------------------------------------------------------------------------


def test_fetch_reports_what_individuals_and_their_rows_say(sandbox, make_connector):
    solicit, email_out, phone_in, ended, forget = (individual(sandbox) for _ in range(5))
    requests.post(
        f"{sandbox.url}/_sandbox/ui-change", json={"id": solicit, "fields": {"HasOptedOutSolicit": True}}, timeout=5
    )
    requests.post(f"{sandbox.url}/_sandbox/ui-change", json={"id": forget, "fields": {"ShouldForget": True}}, timeout=5)
    consent_row(sandbox, email_out, "Email", "OptOut")
    consent_row(sandbox, phone_in, "Phone", "OptIn")
    consent_row(sandbox, ended, "Email", "OptOut", EffectiveTo="2025-01-01T00:00:00Z")
    ids = {
        "solicit": person(sandbox, "a@example.com", individual=solicit),
        "email_out": person(sandbox, "b@example.com", individual=email_out),
        "phone_in": person(sandbox, "c@example.com", individual=phone_in),
        "ended": person(sandbox, "d@example.com", individual=ended),
        "forget": person(sandbox, "e@example.com", individual=forget),
        "none": person(sandbox, "f@example.com"),
        "lead": person(sandbox, "g@example.com", object_type="Lead", individual=email_out),
    }
    connector = make_connector(objects=["Contact", "Lead"])
    fetched = {c.record_id: c for c in connector.fetch_contacts()}
    everything = {"email", "sms", "automated_call", "phone_human", "fax", "postal"}
    assert fetched[ids["solicit"]].opted_out == everything
    assert fetched[ids["forget"]].opted_out == everything
    assert fetched[ids["email_out"]].opted_out == {"email"}
    assert fetched[ids["lead"]].opted_out == {"email"}
    assert fetched[ids["phone_in"]].opted_out == frozenset()
    assert fetched[ids["phone_in"]].subscribed == PHONE_CHANNELS
    assert fetched[ids["ended"]].opted_out == frozenset()
    assert fetched[ids["none"]].opted_out == frozenset()
    assert fetched[ids["email_out"]].attributes["individual_id"] == email_out
    # 7 records over two objects, pages of 5: 3 pages; one Individual and one consent-row query for each page but
    # the one that holds only the record without an Individual
    by_kind = connector.transport.calls.by_kind
    assert by_kind["query"] + by_kind["query more"] == 3 + 2 * 2


def test_a_contact_field_opt_out_beats_an_opt_in_row(sandbox, make_connector):
    party = individual(sandbox)
    consent_row(sandbox, party, "Email", "OptIn")
    contact = person(sandbox, "a@example.com", individual=party, HasOptedOutOfEmail=True)
    [fetched] = make_connector().fetch_contacts()
    assert fetched.record_id == contact
    assert fetched.opted_out == {"email"}
    assert fetched.subscribed == frozenset()


def test_an_incremental_fetch_sees_consent_rows_changed_after_the_record(sandbox, make_connector):
    old = "2024-01-01T00:00:00Z"
    changed, quiet = individual(sandbox, SystemModstamp=old), individual(sandbox, SystemModstamp=old)
    contact = person(sandbox, "a@example.com", individual=changed, SystemModstamp=old)
    person(sandbox, "b@example.com", individual=quiet, SystemModstamp=old)
    connector = make_connector()
    since = datetime(2025, 1, 1, tzinfo=UTC)
    assert list(connector.fetch_contacts(since)) == []
    consent_row(sandbox, changed, "Email", "OptOut")  # recorded in Salesforce after the last sync
    [fetched] = connector.fetch_contacts(since)
    assert fetched.record_id == contact
    assert fetched.opted_out == {"email"}
    assert fetched.updated_at > since  # when the row changed, not the Contact's older stamp


# -- tags and re-subscription -------------------------------------------------------------------------------------


def opted_out_person(sandbox):
    party = individual(sandbox)
    contact = person(sandbox, "jane@example.com", individual=party)
    row = consent_row(sandbox, party, "Email", "OptOut")
    return party, contact, row


def tag(contact, *, known=None, legal_basis=None, status=None):
    return ConsentTag(
        email="jane@example.com",
        status=status or {"email": "allowed", "sms": "allowed", "phone_human": "allowed"},
        legal_basis=legal_basis,
        record_id=contact,
        known={"object": "Contact", **(known or {})},
    )


@pytest.mark.parametrize(
    ("known", "legal_basis"),
    [
        ({}, None),
        ({}, "consent"),
        ({"resubscribe": True}, None),
        ({"resubscribe": True}, "legitimate_interest"),
        ({"resubscribe": True}, "soft_opt_in"),
        ({"resubscribe": False}, "consent"),
    ],
    ids=["no word", "basis only", "no basis", "legitimate interest", "soft opt-in", "said no"],
)
def test_apply_consent_never_writes_an_opt_in_without_proof(sandbox, make_connector, known, legal_basis):
    _, contact, _ = opted_out_person(sandbox)
    before = by_id(sandbox, "ContactPointTypeConsent")
    reset_calls(sandbox)
    report = make_connector().apply_consent([tag(contact, known=known, legal_basis=legal_basis)])
    assert report.applied == 1  # the status field
    assert by_id(sandbox, "ContactPointTypeConsent") == before
    assert writes(sandbox) == {"POST": 0, "PATCH": 1}
    assert "GET /services/data/<version>/query" not in calls(sandbox)
    assert by_id(sandbox, "Contact")[contact]["Consentry_Status__c"] == "email=allowed;phone_human=allowed;sms=allowed"


def test_with_proof_apply_consent_records_the_opt_in(sandbox, make_connector):
    _, contact, row = opted_out_person(sandbox)
    connector = make_connector()
    proof = tag(
        contact,
        known={"object": "email=allowed;sms=forbidden", "resubscribe": True},  # what the sync passes today
        legal_basis="consent",
        status={"email": "allowed", "sms": "forbidden", "phone_human": "allowed"},
    )
    report = connector.apply_consent([proof])
    assert report.failed == []
    rows = by_id(sandbox, "ContactPointTypeConsent")
    assert rows[row]["PrivacyConsentStatus"] == "OptIn"
    assert rows[row]["CaptureSource"] == "Consentry"
    assert [r for r in rows.values() if r["ContactPointType"] == "Phone"] == []  # SMS is not allowed
    assert by_id(sandbox, "Contact")[contact]["HasOptedOutOfEmail"] is False
    [fetched] = connector.fetch_contacts()
    assert fetched.subscribed == {"email"}
    stamp = rows[row]["SystemModstamp"]
    reset_calls(sandbox)
    connector.apply_consent([proof])
    assert by_id(sandbox, "ContactPointTypeConsent")[row]["SystemModstamp"] == stamp
    assert writes(sandbox) == {"POST": 0, "PATCH": 1}


def test_a_forgotten_individual_gets_no_opt_in(sandbox, make_connector):
    party, contact, row = opted_out_person(sandbox)
    requests.post(f"{sandbox.url}/_sandbox/ui-change", json={"id": party, "fields": {"ShouldForget": True}}, timeout=5)
    make_connector().apply_consent([tag(contact, known={"resubscribe": True}, legal_basis="consent")])
    assert by_id(sandbox, "ContactPointTypeConsent")[row]["PrivacyConsentStatus"] == "OptOut"


# -- the mode off -------------------------------------------------------------------------------------------------


def test_with_the_mode_off_individuals_and_their_rows_are_never_touched(sandbox, make_connector):
    party = individual(sandbox, HasOptedOutSolicit=True)
    row = consent_row(sandbox, party, "Email", "OptIn")
    contact = person(sandbox, "jane@example.com", individual=party)
    orphan = person(sandbox, "paul@example.com")
    connector = make_connector(consent_records="off")
    reset_calls(sandbox)
    [jane, paul] = sorted(connector.fetch_contacts(), key=lambda c: c.email)
    assert (jane.opted_out, jane.subscribed) == (frozenset(), frozenset())  # the Individual is not read
    assert "individual_id" not in jane.attributes
    assert paul.opted_out == frozenset()
    connector.push_unsubscribes([Unsubscribe(email="jane@example.com", channels=frozenset({"all"}))])
    connector.push_unsubscribes([Unsubscribe(email="paul@example.com")])
    connector.apply_consent([tag(contact, known={"resubscribe": True}, legal_basis="consent")])
    assert by_id(sandbox, "ContactPointTypeConsent")[row]["PrivacyConsentStatus"] == "OptIn"
    assert list(by_id(sandbox, "ContactPointTypeConsent")) == [row]
    assert list(by_id(sandbox, "Individual")) == [party]
    assert by_id(sandbox, "Contact")[orphan]["IndividualId"] is None
    assert by_id(sandbox, "Contact")[contact]["HasOptedOutOfEmail"] is True
    assert writes(sandbox)["POST"] == 0
    assert calls(sandbox)["GET /services/data/<version>/query"] == 3  # one read, two address lookups


# -- errors -------------------------------------------------------------------------------------------------------


def test_errors_name_no_address(sandbox, make_connector):
    party = individual(sandbox)
    person(sandbox, "secret.person@example.com", individual=party)
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": 50, "fail_status": 500}, timeout=5)
    with pytest.raises(ConnectorError) as error:
        make_connector().push_unsubscribes([Unsubscribe(email="secret.person@example.com")])
    assert "@" not in str(error.value)
    assert "secret.person" not in repr(error.value.args)


class TestSalesforceConformanceWithConsentRecords(ConnectorConformance):
    """The shared suite with the mode on: every seeded contact lacks an Individual, so each unsubscribe creates one."""

    connector_name = "salesforce"
    signature_header = ""

    def seed(self, sandbox, emails):
        seed(sandbox, Contact=[{"Email": email, "LastName": "Test"} for email in emails])

    def is_unsubscribed(self, sandbox, email):
        [record] = [r for r in records(sandbox, "Contact") if r["Email"] == email]
        rows = [r for r in records(sandbox, "ContactPointTypeConsent") if r["PartyId"] == record["IndividualId"]]
        return record["HasOptedOutOfEmail"] is True and [r["PrivacyConsentStatus"] for r in rows] == ["OptOut"]

    def webhook_request(self, connector, *, email, secret=None, timestamp=None):
        body = outbound.envelope(
            secret or DEFAULT_ORG_ID,
            "04k000000000001",
            [("04l000000000001", "Contact", {"Id": "0035g0000000001AAA", "Email": email, "HasOptedOutOfEmail": True})],
        )
        query = {"token": connector.config["webhook_token"]}
        return WebhookRequest("POST", "https://consentry.example/webhooks/salesforce", body, {}, query)


def test_a_collections_call_keeps_within_ten_type_chunks(sandbox, make_connector):
    """Salesforce processes a mixed-type collection in runs of one type, at most 10 a request: updates are grouped by
    type before they are sent (here 11 address lookups each find one Contact and one Lead: 22 runs unsorted)."""
    emails = [f"p{n}@example.com" for n in range(2200)]
    seed(sandbox, Contact=[{"LastName": "C", "Email": emails[n]} for n in range(0, 2200, 200)])
    seed(sandbox, Lead=[{"LastName": "L", "Company": "Acme", "Email": emails[n + 1]} for n in range(0, 2200, 200)])
    connector = make_connector(consent_records="off", objects=["Contact", "Lead"])
    sent = []
    send = connector._api

    def spy(method, path, **options):
        if path == "/composite/sobjects":
            sent.append([record["attributes"]["type"] for record in options["json"]["records"]])
        return send(method, path, **options)

    connector._api = spy
    report = connector.push_unsubscribes([Unsubscribe(email=email) for email in emails])
    assert report.applied == 22
    [types] = sent
    runs = 1 + sum(1 for before, after in itertools.pairwise(types) if before != after)
    assert runs <= 10
