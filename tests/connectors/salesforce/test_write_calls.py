"""The calls a Salesforce write reports are the API requests the sandbox received while it ran: the SOQL look-ups
(every page of them), the consent model's reads, the writes, bulk polls, retries and the clean-up of an Individual
whose link failed. The OAuth token request of a first login is no API request and is left out, as Salesforce's
daily limit leaves it out."""

import pytest
import requests

from consentry.connectors.base import ConsentTag, Unsubscribe
from consentry.connectors.sandbox_kit import set_faults

COLLECTIONS = "/services/data/v60.0/composite/sobjects"
QUERY = "/services/data/v60.0/query"


def seed(sandbox, **objects) -> dict[str, list[str]]:
    answer = requests.post(f"{sandbox.url}/_sandbox/seed", json=objects, timeout=10)
    answer.raise_for_status()
    return answer.json()["ids"]


def api_requests(sent: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The requests Salesforce counts against the daily limit: all but the OAuth token requests. Nothing else
    (no /_sandbox/ admin request) may have reached the sandbox meanwhile."""
    assert all(path.startswith("/services/") for _, path in sent)
    return [(method, path) for method, path in sent if not path.startswith("/services/oauth2/")]


def people(count: int, *, domain: str = "example.com", **fields) -> list[dict]:
    return [{"LastName": f"P{n}", "Email": f"p{n}@{domain}", **fields} for n in range(count)]


@pytest.mark.parametrize("consent_records", ["off", "individual"])
@pytest.mark.parametrize("bulk_threshold", [2000, 3], ids=["collections", "bulk"])
def test_an_unsubscribe_reports_every_api_request_it_sent(
    sandbox, received, make_connector, consent_records, bulk_threshold
):
    """Seven Contacts (two pages of look-up, five records a page) and a Lead: the look-ups by address cost more
    requests than the writes, and the first login's token request comes first and is not counted."""
    [party] = seed(sandbox, Individual=[{"LastName": "P0"}])["Individual"]
    seed(sandbox, Contact=[{**people(1)[0], "IndividualId": party}, *people(7)[1:]], Lead=people(1, Company="Acme"))
    connector = make_connector(consent_records=consent_records, bulk_threshold=bulk_threshold)
    mark = len(received.requests)
    report = connector.push_unsubscribes([Unsubscribe(email=f"p{n}@example.com") for n in range(7)])
    sent = received.since(mark)
    assert sent[0] == ("POST", "/services/oauth2/token")
    counted = api_requests(sent)
    assert report.failed == []
    assert report.calls == len(counted)
    assert sum(1 for request in counted if request == ("GET", QUERY)) >= 2  # by address: Contact, Lead
    assert any(path.startswith(f"{QUERY}/") for _, path in counted)  # the Contacts' second page
    mark = len(received.requests)
    again = connector.push_unsubscribes([Unsubscribe(email="p1@example.com"), Unsubscribe(email="nobody@example.com")])
    assert again.calls == len(api_requests(received.since(mark)))


def test_an_unsubscribe_counts_its_retries_and_the_clean_up_of_an_unlinked_individual(
    sandbox, received, make_connector
):
    """A Contact without an Individual whose row another transaction holds: the new Individual is created, the
    link fails (UNABLE_TO_LOCK_ROW), so the Individual is looked up and deleted again; every one of those requests
    is in the report, and so is the first look-up's 503 and its retry."""
    [held] = seed(sandbox, Contact=people(1))["Contact"]
    requests.post(f"{sandbox.url}/_sandbox/locks", json={"ids": [held]}, timeout=5).raise_for_status()
    connector = make_connector(consent_records="individual")
    connector.push_unsubscribes([Unsubscribe(email="stranger@example.com")])  # logged in from here on
    set_faults(sandbox.url, fail_next=1, fail_status=503)
    mark = len(received.requests)
    report = connector.push_unsubscribes([Unsubscribe(email="p0@example.com")])
    sent = received.since(mark)
    assert (0, "UNABLE_TO_LOCK_ROW") in report.failed
    assert sent[:2] == [("GET", QUERY), ("GET", QUERY)]  # the 503, then its retry
    assert ("DELETE", COLLECTIONS) in sent  # the clean-up
    assert report.calls == len(api_requests(sent)) == len(sent)


@pytest.mark.parametrize("bulk_threshold", [2000, 1], ids=["collections", "bulk"])
def test_apply_consent_reports_the_look_ups_of_a_proven_opt_in(sandbox, received, make_connector, bulk_threshold):
    """With proof of consent the Contact's Individual, its ShouldForget flag and its consent rows are read before
    the status field and the OptIn rows are written: all of it counts."""
    [party] = seed(sandbox, Individual=[{"LastName": "P0"}])["Individual"]
    [contact] = seed(sandbox, Contact=[{**people(1)[0], "IndividualId": party}])["Contact"]
    connector = make_connector(consent_records="individual", bulk_threshold=bulk_threshold)
    tag = ConsentTag(
        email="p0@example.com",
        status={"email": "allowed"},
        legal_basis="consent",
        record_id=contact,
        known={"object": "Contact", "resubscribe": True},
    )
    mark = len(received.requests)
    report = connector.apply_consent([tag])
    counted = api_requests(received.since(mark))
    assert report.failed == []
    assert sum(1 for request in counted if request == ("GET", QUERY)) == 3  # IndividualId, ShouldForget, rows
    assert report.calls == len(counted)
    mark = len(received.requests)
    unproven = ConsentTag(email="p0@example.com", status={"email": "allowed"}, record_id=contact)
    plain = connector.apply_consent([unproven])
    counted = api_requests(received.since(mark))
    assert ("GET", QUERY) not in counted  # the status field only
    assert plain.calls == len(counted)
