"""An objection through /v1/consents and a refusal through /v1/calls reach every connected system (a propagation
job each), and the next /v1/decisions for that person says forbidden."""

from sqlalchemy import select

from consentry.sdk.store import propagation_jobs

EMAIL = "lea.bernard@example.fr"
PHONE = "+33612345679"


def jobs(api) -> list[str]:
    with api.engine.connect() as connection:
        return sorted(connection.execute(select(propagation_jobs.c.target_system)).scalars())


def test_an_objection_reaches_every_system_and_forbids_the_next_email(api):
    facts = {"consent_state": "opt_in", "consent_date": "2026-01-10", "data_source": "form"}
    ask = {"email": EMAIL, "channel": "email", "audience": "b2c", "jurisdiction": "FR", "facts": facts}
    assert api.client.post("/v1/decisions", json=ask).json()["decision"] != "forbidden"
    body = {"email": EMAIL, "channel": "all", "kind": "objected", "occurred_at": "2026-12-02T09:00:00+01:00"}
    response = api.client.post("/v1/consents", json=body, headers={"Idempotency-Key": "objection-e2e"})
    assert response.status_code == 201, response.text
    assert jobs(api) == ["alpha", "beta"]
    after = api.client.post("/v1/decisions", json={**ask, "at": "2026-12-03T10:00:00+01:00"}).json()
    assert after["decision"] == "forbidden"


def test_a_refusal_on_the_phone_reaches_every_system_and_forbids_the_next_call(api):
    facts = {"existing_customer": True, "offer_related_to_contract": True, "bloctel_registered": False}
    ask = {"phone": PHONE, "channel": "phone_human", "audience": "b2b_nominative", "facts": facts}
    call = {"phone": PHONE, "called_at": "2026-12-02T10:00:00+01:00", "outcome": "do_not_call_again"}
    response = api.client.post("/v1/calls", json=call, headers={"Idempotency-Key": "call-e2e"})
    assert response.status_code == 201, response.text
    assert jobs(api) == ["alpha", "beta"]
    after = api.client.post("/v1/decisions", json={**ask, "at": "2026-12-03T10:00:00+01:00"}).json()
    assert after["decision"] == "forbidden"
    assert after["next_lawful_call"] is None
