"""A crash between receipt and commit: no 2xx, the vendor retries, and the opt-out is applied exactly once."""

import time

import pytest
import requests
from sqlalchemy import func, select

from consentry.connectors import registry
from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID
from consentry.connectors.mailchimp.sandbox import create_app as mailchimp_sandbox
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.store import consent_events, propagation_jobs, upgrade
from consentry.webhook_server import create_app, webhooks

from .relay_connector import UNSUBSCRIBED


@pytest.mark.integration
def test_a_crash_before_commit_is_retried_by_the_vendor_and_applied_once(tmp_path, monkeypatch):
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    UNSUBSCRIBED.clear()
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(url)
    with ServerThread(mailchimp_sandbox()) as vendor:
        app = create_app(
            {
                "DATABASE_URL": url,
                "SUPPRESSION_PEPPER": "crash-test-pepper-0123456789",
                "CONNECTORS": ["mailchimp", "alpha"],
                "CONNECTOR_SETTINGS": {
                    "mailchimp": {
                        "api_key": DEFAULT_API_KEY,
                        "list_id": DEFAULT_LIST_ID,
                        "base_url": vendor.url,
                        "webhook_url_token": "t" * 24,
                    },
                    "alpha": {"secret": "alpha-secret"},
                },
            }
        )
        real_ingest, crashes = webhooks.ingest, []

        def crash_once(*args, **kwargs):
            if not crashes:
                crashes.append(1)
                raise RuntimeError("the process died before committing")
            return real_ingest(*args, **kwargs)

        monkeypatch.setattr(webhooks, "ingest", crash_once)
        with ServerThread(app) as server:
            requests.post(
                f"{vendor.url}/3.0/lists/{DEFAULT_LIST_ID}/webhooks",
                auth=("x", DEFAULT_API_KEY),
                json={"url": f"{server.url}/webhooks/mailchimp?token={'t' * 24}"},
                timeout=10,
            )
            requests.post(
                f"{vendor.url}/_sandbox/lists/{DEFAULT_LIST_ID}/seed",
                json={"members": [{"email_address": "jeanne@example.com"}]},
                timeout=10,
            )
            requests.post(
                f"{vendor.url}/_sandbox/lists/{DEFAULT_LIST_ID}/members/jeanne@example.com/status",
                json={"status": "unsubscribed", "source": "user"},
                timeout=10,
            )
            deadline = time.monotonic() + 15
            log = []
            while time.monotonic() < deadline:
                log = requests.get(f"{vendor.url}/_sandbox/deliveries", timeout=5).json()["deliveries"]
                if any(entry["outcome"] == 200 for entry in log):
                    break
                time.sleep(0.1)
        engine = app.extensions["consentry"].runtime.services.engine
        with engine.connect() as connection:
            events = connection.execute(select(func.count()).select_from(consent_events)).scalar_one()
            jobs = connection.execute(select(func.count()).select_from(propagation_jobs)).scalar_one()
        app.extensions["consentry"].runtime.close()
    assert [entry["outcome"] for entry in log] == [500, 200]
    assert events == 1
    assert jobs == 1
