"""Shows a dialer asking the /v1 API before each call, and logging the outcome: a "do not call again" is recorded
once (its Idempotency-Key makes a retry harmless) and the next question about that number answers forbidden.

Run against your server: CONSENTRY_API_URL=http://127.0.0.1:8000 CONSENTRY_API_KEY=csk_... python
examples/dialer_precall.py (a key with the scopes decide and calls). Without them it starts a throwaway server of
its own on 127.0.0.1, with a SQLite database in a temporary folder.
"""

import os
import tempfile
from contextlib import contextmanager

import requests

NUMBER = "+33612345678"
CONTACT = {
    "phone": NUMBER,
    "channel": "phone_human",
    "audience": "b2b_nominative",
    "facts": {"existing_customer": True, "offer_related_to_contract": True, "bloctel_registered": False},
}


def may_we_call(api: requests.Session, url: str, at: str) -> dict:
    answer = api.post(f"{url}/v1/decisions", json={**CONTACT, "at": at}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def log_call(api: requests.Session, url: str, call_id: str, at: str, outcome: str) -> dict:
    body = {"phone": NUMBER, "called_at": at, "outcome": outcome}
    answer = api.post(f"{url}/v1/calls", json=body, headers={"Idempotency-Key": call_id}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def main(url: str, key: str) -> None:
    with requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {key}"
        before = may_we_call(api, url, "2026-12-03T10:00:00+01:00")
        print(f"before the call: {before['decision']} (next lawful call {before['next_lawful_call']})")
        logged = log_call(api, url, "dialer-call-981", "2026-12-03T10:05:00+01:00", "do_not_call_again")
        retried = log_call(api, url, "dialer-call-981", "2026-12-03T10:05:00+01:00", "do_not_call_again")
        print(f"call logged: new={logged['new']}, the retry answered the same: {retried == logged}")
        after = may_we_call(api, url, "2026-12-04T10:00:00+01:00")
        print(f"next day: {after['decision']} ({', '.join(reason['code'] for reason in after['reasons'][:2])})")


@contextmanager
def local_server(scopes=("decide", "calls")):
    """A server of this example's own: SQLite in a temporary folder, no connector, a fresh key."""
    from consentry.connectors.sandbox_kit import ServerThread
    from consentry.sdk.store import upgrade
    from consentry.webhook_server import create_app
    from consentry.webhook_server.api import store

    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{home}/consentry.db"
        upgrade(url)
        app = create_app({"HOME": home, "DATABASE_URL": url, "SUPPRESSION_PEPPER": "example-pepper-0123456789"})
        runtime = app.extensions["consentry"].runtime
        key = store.create_key(runtime.services.engine, "example", list(scopes))
        try:
            with ServerThread(app) as server:
                yield server.url, key
        finally:
            runtime.close()


if __name__ == "__main__":
    if os.environ.get("CONSENTRY_API_URL"):
        main(os.environ["CONSENTRY_API_URL"], os.environ["CONSENTRY_API_KEY"])
    else:
        with local_server() as (url, key):
            main(url, key)
