"""What deleting does in the Salesforce sandbox, through simple-salesforce: the Recycle Bin (query and GET no longer
see a record, queryAll does, a user may restore it, Salesforce purges it after 15 days), Bulk API 2.0 hardDelete
only with the "Bulk API Hard Delete" permission, and outbound messages: none for a deletion, one for an Individual
marked "Forget this Individual" when the org has that message."""

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from consentry.connectors.salesforce.sandbox import create_app, erase_in_vendor, holds
from consentry.connectors.sandbox_kit import ServerThread

UNUSED_ENDPOINT = "http://127.0.0.1:9/hook"  # notifications are only queued: the flush never runs


@pytest.fixture
def server():
    app = create_app(page_size=5, bulk_step=0.02, outbound_url=UNUSED_ENDPOINT, outbound_flush_interval=None)
    with ServerThread(app) as running:
        yield running
    app.extensions["salesforce_sandbox"].close()


def admin(server, path, body=None):
    answer = requests.post(f"{server.url}/_sandbox/{path}", json=body if body is not None else {}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def queued(server) -> int:
    return requests.get(f"{server.url}/_sandbox/deliveries", timeout=10).json()["queued"]


def test_a_deleted_contact_is_in_the_recycle_bin_seen_by_query_all_only(sf):
    created = sf.Contact.create({"LastName": "Doe", "Email": "bin@example.com"})["id"]
    assert sf.Contact.delete(created) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Contact.get(created)
    assert gone.value.content == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED"}]
    assert sf.query("SELECT Id FROM Contact WHERE Email = 'bin@example.com'")["totalSize"] == 0
    everything = sf.query("SELECT Id, IsDeleted FROM Contact WHERE Email = 'bin@example.com'", include_deleted=True)
    assert [(r["Id"], r["IsDeleted"]) for r in everything["records"]] == [(created, True)]


def test_a_user_restores_a_record_from_the_recycle_bin(server, sf):
    created = sf.Lead.create({"LastName": "Doe", "Company": "Example SA", "Email": "back@example.com"})["id"]
    sf.Lead.delete(created)
    assert not holds(server.url, "back@example.com")
    assert admin(server, "recycle-bin/restore", {"id": created}) == {"restored": created}
    assert sf.Lead.get(created)["IsDeleted"] is False
    assert holds(server.url, "back@example.com")
    with pytest.raises(requests.HTTPError):
        admin(server, "recycle-bin/restore", {"id": created})  # no longer in the bin


def test_salesforce_purges_the_recycle_bin_after_15_days(server, sf):
    created = sf.Contact.create({"LastName": "Doe"})["id"]
    sf.Contact.delete(created)
    assert admin(server, "recycle-bin/purge", {"days_later": 14}) == {"purged": 0}
    assert sf.query("SELECT Id FROM Contact", include_deleted=True)["totalSize"] == 1
    assert admin(server, "recycle-bin/purge", {"days_later": 16}) == {"purged": 1}
    assert sf.query("SELECT Id FROM Contact", include_deleted=True)["totalSize"] == 0
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Contact.get(created)
    assert gone.value.content[0]["errorCode"] == "NOT_FOUND"


def test_bulk_hard_delete_needs_the_permission_and_skips_the_recycle_bin(server, sf):
    created = sf.Contact.create({"LastName": "Doe", "Email": "hard@example.com"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.bulk2.Contact.hard_delete(records=[{"Id": created}], wait=0.02)
    assert refused.value.content == [
        {
            "message": "hardDelete operation requires special user profile permission, please contact your system "
            "administrator",
            "errorCode": "FEATURENOTENABLED",
        }
    ]
    assert holds(server.url, "hard@example.com")
    assert admin(server, "settings", {"bulk_api_hard_delete": True})["bulk_api_hard_delete"] is True
    [job] = sf.bulk2.Contact.hard_delete(records=[{"Id": created}], wait=0.02)
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (1, 0)
    assert sf.query("SELECT Id FROM Contact", include_deleted=True)["totalSize"] == 0
    assert requests.get(f"{server.url}/_sandbox/recycle-bin", timeout=5).json() == {"records": []}


def test_the_org_settings_are_booleans_it_knows(server):
    for wrong in ({"bulk_api_hard_delete": "yes"}, {"hard_delete": True}):
        with pytest.raises(requests.HTTPError):
            admin(server, "settings", wrong)
    assert requests.get(f"{server.url}/_sandbox/settings", timeout=5).json() == {
        "bulk_api_hard_delete": False,
        "individual_outbound": True,
    }


def test_deleting_sends_no_outbound_message_forgetting_an_individual_does(server, sf):
    contact = sf.Contact.create({"LastName": "Doe", "Email": "quiet@example.com", "HasOptedOutOfEmail": True})["id"]
    assert queued(server) == 1  # created opted out: the opt-out rule's message
    sf.Contact.delete(contact)
    assert queued(server) == 1
    individual = sf.Individual.create({"LastName": "Doe"})["id"]
    sf.Individual.update(individual, {"HasOptedOutSolicit": True})
    assert queued(server) == 1  # other Individual fields send nothing
    sf.Individual.update(individual, {"ShouldForget": True})
    assert queued(server) == 2
    sf.Individual.update(individual, {"LastName": "Forgotten"})
    assert queued(server) == 2  # still marked: the rule's criteria were already met


def test_without_the_individual_message_forgetting_sends_nothing(server, sf):
    admin(server, "settings", {"individual_outbound": False})
    individual = sf.Individual.create({"LastName": "Doe"})["id"]
    sf.Individual.update(individual, {"ShouldForget": True})
    assert queued(server) == 0


def test_erase_in_vendor_marks_the_individual_creating_it_when_missing(server, sf):
    linked = sf.Individual.create({"LastName": "Linked"})["id"]
    with_one = sf.Contact.create({"LastName": "A", "Email": "forget@example.com", "IndividualId": linked})["id"]
    without = sf.Lead.create({"LastName": "B", "Company": "Example SA", "Email": "forget@example.com"})["id"]
    sf.Contact.create({"LastName": "C", "Email": "keep@example.com"})
    erase_in_vendor(server.url, "forget@example.com")
    assert sf.Individual.get(linked)["ShouldForget"] is True
    created = sf.Lead.get(without)["IndividualId"]
    assert created
    assert created != linked
    assert sf.Individual.get(created)["ShouldForget"] is True
    assert sf.Contact.get(with_one)["IndividualId"] == linked
    assert queued(server) == 2  # one notification per Individual marked
    assert sf.query("SELECT Id FROM Individual WHERE ShouldForget = true")["totalSize"] == 2


def test_a_row_another_transaction_holds_cannot_be_edited_or_deleted_until_released(server, sf):
    held = sf.Contact.create({"LastName": "Doe", "Email": "held@example.com"})["id"]
    assert admin(server, "locks", {"ids": [held]}) == {"locked": [held]}
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.delete(held)
    assert refused.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.update(held, {"LastName": "Edited"})
    [row] = sf.restful("composite/sobjects", method="DELETE", params={"ids": held, "allOrNone": "false"})
    assert (row["success"], row["errors"][0]["statusCode"]) == (False, "UNABLE_TO_LOCK_ROW")
    admin(server, "settings", {"bulk_api_hard_delete": True})
    [job] = sf.bulk2.Contact.hard_delete(records=[{"Id": held}], wait=0.02)
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (1, 1)
    assert sf.Contact.get(held)["LastName"] == "Doe"  # still readable: a lock stops writes only
    for wrong in ({"ids": held}, {"ids": [held], "locked": "no"}, {"ids": ["003000000000000AAA"]}):
        with pytest.raises(requests.HTTPError):
            admin(server, "locks", wrong)
    assert admin(server, "locks", {"ids": [held], "locked": False}) == {"locked": []}
    assert sf.Contact.delete(held) == 204
