"""The console in headless Chromium against the real app on 127.0.0.1: sign in, look a person up and see their
proof, retry a dead job as an operator, be refused as a viewer (403), a forged form without its CSRF token refused
(400), the lock-out after 5 failures. Every page is photographed at 700 and 1,400 px wide under tmp_path, with no
horizontal scrolling and no chart label overlapping another."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.rights import RightsKind
from consentry.sdk.store import console_users, propagation_jobs
from consentry.webhook_server.rights import open_request
from tests.browser import chromium

from .conftest import EMAIL, PASSWORDS, PHONE, PROOF_WORDING, dead_job_id

pytestmark = pytest.mark.integration

WIDTHS = (700, 1400)
# Every pair of labels in one chart whose boxes intersect (a <title> is never drawn).
_OVERLAPS = """
const found = [];
for (const chart of document.querySelectorAll('svg.chart')) {
  const boxes = [...chart.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, p] = boxes[i], [b, q] = boxes[j];
    if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5)
      found.push(a + ' / ' + b);
  }
}
return found;
"""
# What sticks out of the window, tables that scroll within their card aside.
_WIDER = """
return [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth && !e.closest('.scroll'))
  .map(e => e.tagName + (e.id ? '#' + e.id : '')).slice(0, 5);
"""


@pytest.fixture
def browser(console):
    """A headless Chromium, and the console served on 127.0.0.1."""
    with ServerThread(console) as server, chromium("--hide-scrollbars") as driver:
        driver.base_url = server.url
        yield driver


def by(kind: str):
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def submitted(driver, element) -> None:
    """Wait until the page that held `element` has given way to the answer of its form."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # stale, or (Chromium, mid-navigation) no longer in the document
            return True
        return False

    WebDriverWait(driver, 15).until(gone)


def sign_in(driver, name: str, password: str) -> None:
    driver.get(driver.base_url + "/console")
    assert driver.current_url.startswith(driver.base_url + "/console/login")  # sent to sign in first
    driver.find_element(by("ID"), "name").send_keys(name)
    driver.find_element(by("ID"), "password").send_keys(password)
    button = driver.find_element(by("ID"), "sign-in")
    button.click()
    submitted(driver, button)


def photograph(driver, tmp_path, name: str) -> None:
    """The whole page at each width; it never scrolls sideways and no two chart labels overlap."""
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(height + 100, 8000))
        assert driver.execute_script(_WIDER) == [], (name, width)
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), (name, width)
        assert driver.execute_script(_OVERLAPS) == [], (name, width)
        path = tmp_path / "screenshots" / f"{name}-{width}.png"
        path.parent.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(path))
        assert path.stat().st_size > 1000


def forge(driver, action: str, *, token: bool) -> None:
    """A form built in the page and posted as a browser would, with or without the page's CSRF token."""
    page = driver.find_element(by("TAG_NAME"), "main")
    driver.execute_script(
        """
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        if (arguments[1]) form.appendChild(document.querySelector('input[name=csrf_token]').cloneNode());
        document.body.appendChild(form); form.submit();
        """,
        action,
        token,
    )
    submitted(driver, page)


def status_of_jobs(app) -> list[str]:
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return list(connection.execute(select(propagation_jobs.c.status)).scalars())


def test_sign_in_look_a_person_up_and_photograph_every_page(browser, console, tmp_path):
    open_request(
        console.extensions["consentry"].runtime.services,
        [],
        RightsKind.ACCESS,
        email="someone.else@example.com",
        received_at=datetime.now(UTC) - timedelta(days=40),
    )
    browser.get(browser.base_url + "/console/login")
    photograph(browser, tmp_path, "login")
    sign_in(browser, "vera", PASSWORDS["vera"])
    assert browser.find_element(by("ID"), "overview").text == "Overview"
    assert "sms · FR" in browser.find_element(by("ID"), "reach").text
    photograph(browser, tmp_path, "overview")
    for page in ("rights", "rules", "jobs"):
        browser.get(f"{browser.base_url}/console/{page}")
        assert browser.find_element(by("ID"), page)
        assert "someone.else" not in browser.page_source
        if page == "rights":
            assert "access open" in browser.find_element(by("TAG_NAME"), "tbody").text
            assert "(overdue)" in browser.find_element(by("TAG_NAME"), "tbody").text
        photograph(browser, tmp_path, page)
    box = browser.find_element(by("ID"), "identifier")
    box.send_keys(EMAIL)
    button = browser.find_element(by("ID"), "look-up")
    button.click()
    submitted(browser, button)
    assert browser.find_element(by("ID"), "person").text == EMAIL
    assert browser.current_url == browser.base_url + "/console/people"  # the identifier went in the body
    history = browser.find_element(by("ID"), "history").text
    assert PROOF_WORDING in history
    assert "double_opt_in" in history
    assert "sms: forbidden" in browser.find_element(by("ID"), "verdicts").text
    assert "HTTP_503" in browser.find_element(by("ID"), "propagation").text
    assert PHONE not in browser.page_source
    photograph(browser, tmp_path, "person")
    assert {path.name for path in (tmp_path / "screenshots").iterdir()} == {
        f"{page}-{width}.png" for page in ("login", "overview", "rights", "rules", "jobs", "person") for width in WIDTHS
    }


def test_an_operator_retries_a_dead_job(browser, console):
    job = dead_job_id(console)
    sign_in(browser, "otto", PASSWORDS["otto"])
    browser.get(browser.base_url + "/console/jobs")
    assert "HTTP_503" in browser.find_element(by("ID"), f"job-{job}").text
    button = browser.find_element(by("ID"), f"retry-{job}")
    button.click()
    submitted(browser, button)
    assert browser.find_element(by("ID"), "no-jobs").text == "No failed or dead job."
    assert status_of_jobs(console) == ["pending"]


def test_a_viewer_is_refused_and_a_form_without_its_token_too(browser, console):
    job = dead_job_id(console)
    sign_in(browser, "vera", PASSWORDS["vera"])
    browser.get(browser.base_url + "/console/jobs")
    assert browser.find_elements(by("ID"), f"retry-{job}") == []  # no button for a viewer
    forge(browser, f"/console/jobs/{job}/retry", token=True)
    assert browser.find_element(by("ID"), "error").text.startswith("403")
    browser.get(browser.base_url + "/console/jobs")
    forge(browser, f"/console/jobs/{job}/retry", token=False)
    assert browser.find_element(by("ID"), "error").text.startswith("400")
    assert "CSRF" in browser.page_source
    assert status_of_jobs(console) == ["dead"]


def test_an_operator_s_forged_form_without_its_token_is_refused(browser, console):
    job = dead_job_id(console)
    sign_in(browser, "otto", PASSWORDS["otto"])
    browser.get(browser.base_url + "/console/jobs")
    forge(browser, f"/console/jobs/{job}/retry", token=False)
    assert browser.find_element(by("ID"), "error").text.startswith("400")
    assert status_of_jobs(console) == ["dead"]


def test_five_failures_lock_the_account(browser, console):
    for _ in range(5):
        sign_in(browser, "otto", "not-the-password-0")
        assert browser.find_element(by("ID"), "sign-in-error")
    sign_in(browser, "otto", PASSWORDS["otto"])  # the right password, too late
    assert browser.find_element(by("ID"), "sign-in-error")
    assert browser.current_url.startswith(browser.base_url + "/console/login")
    with console.extensions["consentry"].runtime.services.engine.connect() as connection:
        locked_until = connection.execute(
            select(console_users.c.locked_until).where(console_users.c.name == "otto")
        ).scalar_one()
    assert locked_until is not None
