"""The console through Flask's test client: off without its secret, signed-out visitors sent to sign in, the
lock-out, roles, CSRF, the look-up's audit row (a keyed hash, never the identifier) and what a page shows."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from consentry.sdk.identity import IdentifierKind, normalise
from consentry.sdk.store import console_audit, console_users, propagation_jobs
from consentry.webhook_server import create_app
from consentry.webhook_server.console import users
from consentry.webhook_server.console.users import MAX_FAILURES, sign_in

from .conftest import EMAIL, PASSWORDS, PHONE, PROOF_WORDING, console_config, dead_job_id

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def token(client, path="/console/login") -> str:
    return _TOKEN.search(client.get(path).text).group(1)


def signed_in(app, name):
    client = app.test_client()
    answer = client.post(
        "/console/login", data={"name": name, "password": PASSWORDS[name], "csrf_token": token(client)}
    )
    assert answer.status_code == 302
    return client


def rows(app, table) -> list:
    with app.extensions["consentry"].runtime.services.engine.connect() as connection:
        return list(connection.execute(select(table)))


def test_without_its_secret_the_console_does_not_exist(database_url):
    app = create_app(console_config(database_url))
    try:
        client = app.test_client()
        assert client.get("/console").status_code == 404
        assert client.get("/console/login").status_code == 404
        assert client.post("/console/people", data={"identifier": EMAIL}).status_code == 404
    finally:
        app.extensions["consentry"].runtime.close()


def test_a_signed_out_visitor_is_sent_to_sign_in_and_the_cookie_is_httponly_and_lax(console):
    client = console.test_client()
    for path in ("/console", "/console/", "/console/rights", "/console/rules", "/console/jobs"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/console/login")
    cookie = client.post(
        "/console/login", data={"name": "vera", "password": PASSWORDS["vera"], "csrf_token": token(client)}
    ).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # served over http here
    assert client.get("/console").status_code == 200


def test_the_session_cookie_is_secure_behind_an_https_origin(database_url):
    app = create_app(console_config(database_url, CONSOLE_SECRET="s" * 32, PUBLIC_URL="https://consentry.example"))
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["consentry"].runtime.close()


def test_five_failures_lock_the_account_for_fifteen_minutes(console):
    engine = console.extensions["consentry"].runtime.services.engine
    now = datetime.now(UTC)
    for _ in range(MAX_FAILURES):
        assert sign_in(engine, "vera", "wrong-password-000", now=now) is None
    assert sign_in(engine, "vera", PASSWORDS["vera"], now=now + timedelta(minutes=14)) is None
    assert sign_in(engine, "otto", PASSWORDS["otto"], now=now) is not None  # another account is not locked
    user = sign_in(engine, "vera", PASSWORDS["vera"], now=now + timedelta(minutes=15, seconds=1))
    assert user is not None
    assert user.role == "viewer"
    [vera] = [row for row in rows(console, console_users) if row.name == "vera"]
    assert vera.failed_attempts == 0


def test_a_locked_account_checks_the_password_as_an_open_one_does_and_still_refuses_it(console, monkeypatch):
    """The locked answer costs the same hash check, so that its time does not tell the account is locked."""
    engine = console.extensions["consentry"].runtime.services.engine
    now = datetime.now(UTC)
    for _ in range(MAX_FAILURES):
        sign_in(engine, "vera", "wrong-password-000", now=now)
    checked: list[str] = []
    real_check = users.check_password_hash
    monkeypatch.setattr(
        users, "check_password_hash", lambda stored, given: checked.append(stored) or real_check(stored, given)
    )
    assert sign_in(engine, "vera", PASSWORDS["vera"], now=now + timedelta(minutes=1)) is None
    [vera] = [row for row in rows(console, console_users) if row.name == "vera"]
    assert checked == [vera.password_hash]  # her own hash, checked once, as on an open account
    assert vera.locked_until is not None  # the right password unlocked nothing
    assert sign_in(engine, "vera", "wrong-password-000", now=now + timedelta(minutes=2)) is None
    assert checked == [vera.password_hash] * 2
    assert sign_in(engine, "otto", PASSWORDS["otto"], now=now) is not None
    assert len(checked) == 3  # the open account's answer: one check too


def test_a_failure_then_a_success_starts_the_count_again(console):
    engine = console.extensions["consentry"].runtime.services.engine
    for _ in range(MAX_FAILURES - 1):
        sign_in(engine, "vera", "wrong-password-000")
    assert sign_in(engine, "vera", PASSWORDS["vera"]) is not None
    assert sign_in(engine, "vera", "wrong-password-000") is None
    assert sign_in(engine, "vera", PASSWORDS["vera"]) is not None


def test_signing_in_is_rate_limited_per_address(console):
    client = console.test_client()
    form = {"name": "nobody", "password": "whatever-it-is", "csrf_token": token(client)}
    answers = [client.post("/console/login", data=form).status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console):
    client = signed_in(console, "otto")
    job = dead_job_id(console)
    assert client.post(f"/console/jobs/{job}/retry").status_code == 400
    assert client.post("/console/people", data={"identifier": EMAIL}).status_code == 400
    assert [row.status for row in rows(console, propagation_jobs)] == ["dead"]
    assert rows(console, console_audit) == []


def test_a_viewer_reads_the_jobs_but_may_not_retry_one(console):
    client = signed_in(console, "vera")
    page = client.get("/console/jobs")
    assert "HTTP_503" in page.text
    assert "Retry</button>" not in page.text
    job = dead_job_id(console)
    answer = client.post(f"/console/jobs/{job}/retry", data={"csrf_token": token(client, "/console/jobs")})
    assert answer.status_code == 403
    assert [row.status for row in rows(console, propagation_jobs)] == ["dead"]


def test_an_operator_replays_one_dead_job_and_it_is_audited(console):
    client = signed_in(console, "otto")
    job = dead_job_id(console)
    answer = client.post(f"/console/jobs/{job}/retry", data={"csrf_token": token(client, "/console/jobs")})
    assert answer.status_code == 302
    [row] = rows(console, propagation_jobs)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert [(entry.actor, entry.action) for entry in rows(console, console_audit)] == [("otto", f"retry job {job}")]
    again = client.post(f"/console/jobs/{job}/retry", data={"csrf_token": token(client, "/console/jobs")})
    assert again.status_code == 404  # no longer dead: nothing to replay


def test_a_look_up_shows_the_proof_and_records_only_the_keyed_hash(console):
    client = signed_in(console, "vera")
    page = client.post(
        "/console/people", data={"identifier": " Jeanne.Martin@Example.com ", "csrf_token": token(client, "/console")}
    )
    assert page.status_code == 200
    assert EMAIL in page.text
    assert PROOF_WORDING.replace("'", "&#39;") in page.text
    assert "double_opt_in" in page.text
    assert "HTTP_503" in page.text  # where the opt-out went: beta, dead
    assert page.headers["Cache-Control"] == "no-store"
    assert PHONE not in page.text  # not asked for
    assert "612345678" not in page.text
    [entry] = rows(console, console_audit)
    keyring = console.extensions["consentry"].runtime.services.suppression.keyring
    assert entry.actor == "vera"
    assert entry.action == "lookup"
    assert entry.identifier_hash == keyring.digest(normalise(IdentifierKind.EMAIL, EMAIL)).hex()
    assert entry.pepper_id == keyring.current_id
    assert EMAIL not in " ".join(str(value) for value in entry)


def test_a_look_up_by_phone_shows_no_email(console):
    client = signed_in(console, "vera")
    page = client.post(
        "/console/people", data={"identifier": "06 12 34 56 78", "csrf_token": token(client, "/console")}
    )
    assert page.status_code == 200
    assert PHONE in page.text
    assert "jeanne" not in page.text.lower()
    assert PROOF_WORDING.replace("'", "&#39;") in page.text


@pytest.mark.parametrize("identifier", ["not an address", "jeanne@", ""])
def test_a_bad_identifier_is_refused_unechoed_and_not_audited(console, identifier):
    client = signed_in(console, "vera")
    page = client.post("/console/people", data={"identifier": identifier, "csrf_token": token(client, "/console")})
    assert page.status_code == 400
    assert 'id="look-up-error"' in page.text
    if identifier:
        assert identifier not in page.text
    assert rows(console, console_audit) == []


def test_no_page_shows_an_identifier_it_was_not_asked_for(console):
    client = signed_in(console, "otto")
    for path in ("/console", "/console/rights", "/console/rules", "/console/jobs"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "jeanne" not in page.text.lower(), path
        assert "612345678" not in page.text, path


def test_the_overview_counts_by_channel_audience_and_jurisdiction(console):
    page = signed_in(console, "vera").get("/console").text
    assert "sms · FR" in page
    assert "email · b2c" in page
    assert 'viewBox="0 0 640' in page
