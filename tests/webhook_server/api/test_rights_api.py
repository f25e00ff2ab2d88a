"""POST /v1/rights-requests and GET /v1/rights-requests/<id> over HTTP: each kind recorded and carried out as the
CLI's, on the GDPR's clock, idempotent, refused with a problem that records nothing, never naming the person."""

import pytest
from sqlalchemy import select

from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import consent_events, propagation_jobs, rights_requests

from .test_errors import EMAIL, PHONE, assert_problem

FIELDS = {
    *("id", "kind", "status", "due", "overdue", "systems", "details"),
    *("received_at", "extended", "verified_by", "source"),
}


def post(api, body, *, key="default", idempotency_key="request-1"):
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return api.client.post("/v1/rights-requests", json=body, key=key, headers=headers)


def created(api, body, **kwargs) -> dict:
    response = post(api, body, **kwargs)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == FIELDS
    assert response.headers["Location"] == f"/v1/rights-requests/{answer['id']}"
    assert EMAIL not in response.text
    assert "33612345678" not in response.text
    return answer


def jobs_of(api, request_id: int) -> list[tuple[str, str]]:
    table = propagation_jobs.c
    with api.engine.connect() as connection:
        rows = connection.execute(
            select(table.target_system, table.action).where(table.request_id == request_id).order_by(table.id)
        )
        return [tuple(row) for row in rows]


def test_an_erasure_is_an_erase_job_in_every_relay_and_then_consentry(api):
    answer = created(
        api,
        {"kind": "erasure", "email": EMAIL, "phone": "06 12 34 56 78", "verified_by": "reply from the address"},
    )
    assert answer["kind"] == "erasure"
    assert answer["status"] == "open"
    assert answer["systems"] == {"alpha": "open", "beta": "open", "consentry": "open"}
    assert answer["source"] == "api"
    assert answer["verified_by"] == "reply from the address"
    assert answer["extended"] is False
    assert jobs_of(api, answer["id"]) == [("alpha", "erase"), ("beta", "erase"), ("consentry", "erase")]
    shown = api.client.get(f"/v1/rights-requests/{answer['id']}")
    assert shown.status_code == 200
    assert shown.json() == answer


def test_an_objection_is_an_opt_out_in_the_ledger_and_the_suppression_list(api):
    answer = created(api, {"kind": "objection", "email": EMAIL})
    assert answer["kind"] == "objection"
    assert set(answer["systems"]) == {"alpha", "beta"}
    held = api.runtime.services.suppression.check(IdentifierKind.EMAIL, EMAIL)
    assert held is not None
    assert held.covers("email")
    assert held.covers("phone_human")
    with api.engine.connect() as connection:
        kinds = connection.execute(
            select(consent_events.c.kind).where(consent_events.c.event_key == f"rights:{answer['id']}")
        ).scalars()
        assert list(kinds) == ["objected"]
    assert answer["verified_by"] is None  # not checked, and the answer says so


def test_an_access_request_waits_for_its_export(api):
    answer = created(api, {"kind": "access", "phone": PHONE, "verified_by": "called back on the number"})
    assert answer["systems"] == {"consentry": "open"}
    assert answer["status"] == "open"
    assert jobs_of(api, answer["id"]) == []


@pytest.mark.parametrize(
    ("received_at", "due"),
    [
        ("2025-01-31T23:30:00-05:00", "2025-02-28"),  # its own day, though Paris is already on 1 February
        ("2025-03-01T00:30:00", "2025-04-01"),  # no offset: Paris's day, though UTC's is still 28 February
    ],
)
def test_the_due_date_runs_from_the_day_of_receipt_in_its_zone(api, received_at, due):
    answer = created(api, {"kind": "access", "email": EMAIL, "received_at": received_at})
    assert answer["due"] == due
    assert answer["overdue"] is True


def test_a_replayed_key_answers_the_same_request_and_another_body_is_a_409(api):
    body = {"kind": "erasure", "email": EMAIL}
    first = created(api, body, idempotency_key="form-7")
    again = created(api, dict(reversed(body.items())), idempotency_key="form-7")
    assert again == first
    conflict = post(api, {"kind": "access", "email": EMAIL}, idempotency_key="form-7")
    problem = assert_problem(conflict, 409)
    assert [error["field"] for error in problem["errors"]] == ["Idempotency-Key"]
    assert api.count(rights_requests) == 1
    assert len(jobs_of(api, first["id"])) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "forget_me", "email": EMAIL}, "kind"),
        ({"email": EMAIL}, "kind"),
        ({"kind": "erasure"}, "email"),
        ({"kind": "erasure", "email": "", "phone": None}, "email"),
        ({"kind": "erasure", "email": "not an address " + EMAIL}, "email"),
        ({"kind": "erasure", "phone": "+3361234"}, "phone"),
        ({"kind": "erasure", "email": EMAIL, "name": "Paul"}, "name"),
        ({"kind": "erasure", "email": EMAIL, "received_at": "2999-01-01T10:00:00+01:00"}, "received_at"),
        ({"kind": "erasure", "email": EMAIL, "received_at": "0001-01-01T00:00:00+05:00"}, "received_at"),
        ({"kind": "erasure", "email": EMAIL, "received_at": "yesterday"}, "received_at"),
        ({"kind": "erasure", "email": EMAIL, "verified_by": "   "}, "verified_by"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field_and_records_nothing(api, body, field):
    problem = assert_problem(post(api, body), 400)
    assert field in [error["field"] for error in problem["errors"]]
    assert api.count(rights_requests) == 0
    assert api.count(propagation_jobs) == 0
    assert api.count(consent_events) == 0


def test_a_request_needs_an_idempotency_key(api):
    problem = assert_problem(post(api, {"kind": "erasure", "email": EMAIL}, idempotency_key=None), 400)
    assert [error["field"] for error in problem["errors"]] == ["Idempotency-Key"]
    assert api.count(rights_requests) == 0


def test_without_a_key_or_the_scope_nothing_is_recorded_nor_shown(api):
    opened = created(api, {"kind": "objection", "email": EMAIL})
    body = {"kind": "erasure", "email": EMAIL}
    record_only = api.key("decide", "record", "calls", "read_proof")
    assert_problem(post(api, body, key=None), 401)
    assert_problem(post(api, body, key=record_only), 403)
    assert_problem(api.client.get(f"/v1/rights-requests/{opened['id']}", key=None), 401)
    assert_problem(api.client.get(f"/v1/rights-requests/{opened['id']}", key=record_only), 403)
    assert api.count(rights_requests) == 1
    assert api.client.get(f"/v1/rights-requests/{opened['id']}", key=api.key("rights")).status_code == 200


def test_an_unknown_request_is_a_404(api):
    assert_problem(api.client.get("/v1/rights-requests/999"), 404)


@pytest.mark.parametrize("request_id", ["0", str(2**63), "-1", "abc"])
def test_an_id_outside_the_documented_range_is_a_404_not_a_database_error(api, request_id):
    assert_problem(api.client.get(f"/v1/rights-requests/{request_id}", validate=False), 404)
