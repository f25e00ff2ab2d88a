"""Shows a web form's back end recording a consent with its proof through the /v1 API, then reading the proof
back: the form's submission id is the Idempotency-Key, so a double submit records one consent.

Run against your server: CONSENTRY_API_URL=http://127.0.0.1:8000 CONSENTRY_API_KEY=csk_... python
examples/web_form_consent.py (a key with the scopes record and read_proof). Without them it starts a throwaway
server of its own on 127.0.0.1, with a SQLite database in a temporary folder.
"""

import os
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from dialer_precall import local_server

EMAIL = "claire.martin@example.fr"


def record_consent(api: requests.Session, url: str, submission_id: str) -> dict:
    body = {
        "email": EMAIL,
        "channel": "email",
        "kind": "granted",
        "occurred_at": "2026-12-03T10:00:00+01:00",
        "proof": {
            "collection_point": "https://shop.example/newsletter",
            "wording": "Yes, send me your offers by email. I can unsubscribe at any time.",
            "wording_version": "v3",
            "method": "double_opt_in",
        },
    }
    answer = api.post(f"{url}/v1/consents", json=body, headers={"Idempotency-Key": submission_id}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def main(url: str, key: str) -> None:
    with requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {key}"
        first = record_consent(api, url, "newsletter-form-0042")
        double_submit = record_consent(api, url, "newsletter-form-0042")
        print(f"consent recorded as {first['event_key']}, double submit answered the same: {double_submit == first}")
        proof = api.get(f"{url}/v1/people/proof", params={"email": EMAIL}, timeout=10)
        proof.raise_for_status()
        events = proof.json()["events"]
        print(f"proof: {len(events)} event, {events[0]['kind']} via {events[0]['method']}")


if __name__ == "__main__":
    if os.environ.get("CONSENTRY_API_URL"):
        main(os.environ["CONSENTRY_API_URL"], os.environ["CONSENTRY_API_KEY"])
    else:
        with local_server(scopes=["record", "read_proof"]) as (url, key):
            main(url, key)
