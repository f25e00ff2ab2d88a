"""Unsubscribe links: one-click POST, the confirmation page, tampered tokens; and the page in a real browser."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from consentry.connectors import registry
from consentry.sdk.consent_state import ConsentEvent, ConsentStatus
from consentry.sdk.identity import IdentifierKind
from consentry.sdk.store import consent_events, propagation_jobs, upgrade
from consentry.sdk.unsubscribe import UnsubscribeTokens, build_link
from consentry.webhook_server import create_app
from tests.browser import chromium

from .relay_connector import UNSUBSCRIBED

SECRET = "unsubscribe-secret-0123456789"


@pytest.fixture
def app(database_url):
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    UNSUBSCRIBED.clear()
    upgrade(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SUPPRESSION_PEPPER": "server-test-pepper-0123456789",
            "CONNECTORS": ["alpha"],
            "CONNECTOR_SETTINGS": {"alpha": {"secret": "alpha-secret"}},
            "UNSUBSCRIBE_SECRET": SECRET,
        }
    )
    yield app
    app.extensions["consentry"].runtime.close()


def link(app, email="jane@example.com", channels=("email", "sms")):
    engine = app.extensions["consentry"].runtime.services.engine
    return build_link(
        engine,
        UnsubscribeTokens(SECRET),
        base_url="https://consentry.example",
        email=email,
        channels=channels,
        advertiser="acme",
    )


def path_of(url: str) -> str:
    return url.removeprefix("https://consentry.example")


def rows(app, table) -> int:
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_link_carries_no_readable_email_and_the_rfc_8058_headers(app):
    made = link(app)
    assert "jane" not in made.url
    assert made.headers["List-Unsubscribe"] == f"<{made.url}>"
    assert made.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_one_click_records_the_objection_and_propagates_it(app):
    client = app.test_client()
    answer = client.post(path_of(link(app).url), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert answer.data == b""
    suppression = app.extensions["consentry"].runtime.services.suppression
    assert suppression.check(IdentifierKind.EMAIL, "jane@example.com").covers("sms")
    assert rows(app, consent_events) == 2
    assert rows(app, propagation_jobs) == 2
    client.post(path_of(link(app).url), data={"List-Unsubscribe": "One-Click"})  # clicked twice: one effect
    assert rows(app, consent_events) == 2


def test_the_same_link_works_again_after_a_newer_consent(app):
    """Every mail carries the same link. Before, its second use, after the person had subscribed again, was taken
    for a repeat of the first click and changed nothing: the person stayed subscribed."""
    client = app.test_client()
    ledger = app.extensions["consentry"].runtime.services.ledger
    url = path_of(link(app, channels=("email",)).url)
    client.post(url, data={"List-Unsubscribe": "One-Click"})
    resubscribed = ConsentEvent(
        "doi-1",
        "regranted",
        "email",
        datetime.now(UTC),
        "website",
        "acme",
        method="double_opt_in",
        collection_point="https://acme.example/newsletter",
        wording="Yes, send me the newsletter",
    )
    ledger.append(resubscribed, email="jane@example.com")
    assert ledger.state(channel="email", advertiser="acme", email="jane@example.com").status is ConsentStatus.GRANTED
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    state = ledger.state(channel="email", advertiser="acme", email="jane@example.com").status
    assert state is ConsentStatus.OPTED_OUT


def test_the_page_lets_the_recipient_choose_channels(app):
    client = app.test_client()
    url = path_of(link(app).url)
    page = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert 'value="sms"' in page
    done = client.post(url + "?lang=fr", data={"channels": ["sms"]}).get_data(as_text=True)
    assert "C'est fait" in done
    suppression = app.extensions["consentry"].runtime.services.suppression
    entry = suppression.check(IdentifierKind.EMAIL, "jane@example.com")
    assert entry.covers("sms")
    assert not entry.covers("email")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_is_refused_without_effect(app, method):
    url = path_of(link(app).url)
    tampered = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    answer = getattr(app.test_client(), method)(tampered, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 400
    assert rows(app, consent_events) == 0


@pytest.mark.integration
def test_the_page_works_in_a_real_browser(app, database_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from consentry.connectors.sandbox_kit import ServerThread

    french = {"intl.accept_languages": "fr-FR,fr"}
    with ServerThread(app) as server, chromium("--lang=fr-FR", prefs=french) as driver:
        driver.get(server.url + path_of(link(app).url))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        boxes = driver.find_elements(By.CSS_SELECTOR, "input[name=channels]")
        assert len(boxes) == 2
        for box in boxes:  # every box has a visible label and is reachable by keyboard
            assert box.find_element(By.XPATH, "./..").tag_name == "label"
        driver.find_element(By.CSS_SELECTOR, "input[value=email]").click()  # keep email, stop SMS only
        driver.find_element(By.ID, "confirm").click()
        done = WebDriverWait(driver, 15).until(  # the form posts and a new page loads
            expected_conditions.presence_of_element_located((By.ID, "done"))
        )
        assert done.text == "C'est fait"
    entry = app.extensions["consentry"].runtime.services.suppression.check(IdentifierKind.EMAIL, "jane@example.com")
    assert entry.covers("sms")
    assert not entry.covers("email")


def test_clicks_that_race_each_other_record_one_objection(app, monkeypatch):
    """Before, the check that the channel was already opted out ran outside the write: ten simultaneous clicks
    each read "subscribed" and recorded ten objections and their jobs. Here every click reads the state before
    any of them writes, as racing clicks do."""
    ledger = app.extensions["consentry"].runtime.services.ledger
    before = ledger.state(channel="email", advertiser="acme", email="jane@example.com")
    monkeypatch.setattr(type(ledger), "state", lambda *_args, **_kwargs: before)
    client = app.test_client()
    url = path_of(link(app, channels=("email",)).url)
    for _ in range(3):
        assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert rows(app, consent_events) == 1
    assert rows(app, propagation_jobs) == 1


def test_simultaneous_clicks_record_one_objection(app):
    import threading

    url = path_of(link(app, channels=("email",)).url)
    start = threading.Barrier(10)
    answers = []

    def click() -> None:
        client = app.test_client()
        start.wait()
        answers.append(client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code)

    threads = [threading.Thread(target=click) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 10
    assert rows(app, consent_events) == 1
    assert rows(app, propagation_jobs) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_pages_cannot_be_framed_cached_or_leak_their_link(app, method):
    answer = getattr(app.test_client(), method)(path_of(link(app).url), data={"channels": ["sms"]})
    assert answer.status_code == 200
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
