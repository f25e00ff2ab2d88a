"""A batch reads what Consentry knows in bulk: each of its answers is the single decision's for the same contact."""

from datetime import datetime

from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import reading
from consentry.webhook_server.api import decisions, records
from consentry.webhook_server.api.schemas import DecisionRequestSchema

AT = "2026-12-03T10:00:00+01:00"
GRANTED = "granted@example.fr"
SUPPRESSED = "suppressed@example.fr"
CALLED = "+33612345678"
REFUSED = "+33698765432"
APART_EMAIL, APART_PHONE = "apart@example.fr", "+33611111111"  # the email and the number recorded as two people
PROOF = {"collection_point": "signup form", "wording": "Yes, email me", "method": "double_opt_in"}
CALLABLE = {"existing_customer": True, "offer_related_to_contract": True, "callee_is_consumer": False}


def record(api, path: str, key: str, **body) -> None:
    response = api.client.post(path, json=body, headers={"Idempotency-Key": key})
    assert response.status_code in (200, 201), response.text


def test_a_batch_answers_as_single_decisions_do(api):
    record(api, "/v1/consents", "grant", email=GRANTED, channel="email", kind="granted", occurred_at=AT, proof=PROOF)
    record(
        api,
        "/v1/consents",
        "apart-grant",
        email=APART_EMAIL,
        channel="all",
        kind="granted",
        occurred_at=AT,
        proof=PROOF,
    )
    record(api, "/v1/calls", "apart-call", phone=APART_PHONE, called_at="2026-12-01T10:00:00+01:00", outcome="answered")
    api.runtime.services.suppression.add(IdentifierKind.EMAIL, SUPPRESSED, channels=["email"], reason_code="MANUAL")
    for day in ("2026-11-20", "2026-11-25", "2026-12-01"):
        record(api, "/v1/calls", f"call-{day}", phone=CALLED, called_at=f"{day}T11:00:00+01:00", outcome="no_answer")
    record(api, "/v1/calls", "refusal", phone=REFUSED, called_at="2026-11-30T23:30:00+00:00", outcome="refused")
    email = {"channel": "email", "audience": "b2c", "jurisdiction": "FR", "at": AT}
    call = {"channel": "phone_human", "audience": "b2b_nominative", "facts": CALLABLE, "at": AT}
    contacts = [
        {**email, "email": GRANTED, "facts": {"data_source": "form"}},
        {**email, "email": SUPPRESSED, "facts": {"consent_state": "opt_in", "consent_date": "2026-01-10"}},
        {**call, "phone": CALLED},
        {**call, "phone": CALLED, "at": "2026-12-24T10:00:00+01:00"},  # another moment: another window
        {**call, "phone": CALLED, "advertiser": "globex"},  # another advertiser: no calls of its own
        {**call, "phone": REFUSED},
        {**call, "email": APART_EMAIL, "phone": APART_PHONE},
        {**email, "email": APART_EMAIL, "phone": APART_PHONE},
        {**email, "email": "unknown@example.fr"},
        {**call, "phone": "+33655555555"},
        {"channel": "email", "at": AT},  # nobody named
        {**email, "email": GRANTED, "facts": {"data_source": "form"}},  # the same contact twice
    ]
    singles = []
    for contact in contacts:
        response = api.client.post("/v1/decisions", json=contact)
        assert response.status_code == 200, response.text
        singles.append(response.json())
    batch = api.client.post("/v1/decisions/batch", json={"contacts": contacts})
    assert batch.status_code == 200, batch.text
    assert batch.json()["decisions"] == singles
    # the contacts differ as intended: what Consentry knows changed the answers
    assert singles[0]["decision"] != "forbidden"
    assert singles[1]["decision"] == "forbidden"
    assert singles[5]["decision"] == "forbidden"

    # and the call log read in bulk gives each contact the facts `call_facts` gives it alone
    queries = [DecisionRequestSchema().load(contact) for contact in contacts]
    known = decisions._known(api.runtime, queries)
    engine = api.engine
    for query, held in zip(queries, known, strict=True):
        if query.email or query.phone:
            alone = records.call_facts(
                engine,
                email=query.email,
                phone=query.phone,
                advertiser=query.advertiser or api.runtime.advertiser,
                at=query.at,
            )
            assert held.calls == alone
    assert known[2].calls["calls_in_last_30_days"] == 3
    assert known[3].calls["calls_in_last_30_days"] == 2  # 25 November and 1 December
    assert known[4].calls == {"calls_in_last_30_days": 0}
    assert "refused_during_call_date" in known[5].calls
    assert known[6].calls == {"calls_in_last_30_days": 1}
    with reading(engine) as connection:
        assert records.call_facts_many(connection, [(set(), "x", datetime.fromisoformat(AT))]) == [
            {"calls_in_last_30_days": 0}
        ]
