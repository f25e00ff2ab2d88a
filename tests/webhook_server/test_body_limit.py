"""A body without Content-Length (chunked) over the size limit is refused whole, as one with Content-Length is.

Gunicorn marks every request `wsgi.input_terminated` and ends a chunked body's stream itself; werkzeug then reads such
a body up to the limit and hands on that part as if it were all, so the start of a Mailchimp form, cut anywhere, was
stored as an opt-out. The client here builds the environ gunicorn builds for a chunked request.
"""

import io

import pytest
from sqlalchemy import func, select

from consentry.sdk.store import consent_events, upgrade
from consentry.webhook_server import create_app

LIMIT = 1024
TOKEN = "t" * 24
UNSUBSCRIBE = (
    b"type=unsubscribe&fired_at=2026-11-23+10%3A00%3A00&data%5Blist_id%5D=f1&data%5Bid%5D=8a25ff1d98"
    b"&data%5Bemail%5D=jeanne%40example.com&data%5Bmerges%5D%5BNOTE%5D="
)


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    database_url = f"sqlite:///{tmp_path / 'consentry.db'}"
    upgrade(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": "body-limit-test-pepper-0123456789",
            "MAX_CONTENT_LENGTH": LIMIT,
            "CONNECTORS": ["mailchimp"],
            "CONNECTOR_SETTINGS": {
                "mailchimp": {"api_key": "0123456789abcdef-us6", "list_id": "f1", "webhook_url_token": TOKEN}
            },
        }
    )
    yield app
    app.extensions["consentry"].runtime.close()


def post_chunked(app, body: bytes):
    """What gunicorn hands the app for `Transfer-Encoding: chunked`: no CONTENT_LENGTH, the stream ended by it."""
    return app.test_client().post(
        f"/webhooks/mailchimp?token={TOKEN}",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def stored(app) -> int:
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(consent_events)).scalar_one()


def test_a_chunked_body_over_the_limit_is_a_413_and_stores_nothing(app):
    answer = post_chunked(app, UNSUBSCRIBE + b"x" * (LIMIT + 1 - len(UNSUBSCRIBE)))  # one byte over
    assert answer.status_code == 413
    assert stored(app) == 0
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'consentry_webhooks_rejected_total{connector="mailchimp",reason="too_large"} 1.0' in metrics


def test_a_chunked_body_at_the_limit_is_read_whole(app):
    assert post_chunked(app, UNSUBSCRIBE + b"x" * (LIMIT - len(UNSUBSCRIBE))).status_code == 200
    assert stored(app) == 1
