"""What a real `consentry serve` writes to its output (gunicorn's access and error logs, the app's messages) names
the paths and statuses of the requests, and no secret, token, address or phone number."""

import json
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from consentry.connectors.hubspot.webhooks import signature_v3
from consentry.connectors.salesforce import outbound
from consentry.sdk.store import make_engine, upgrade
from consentry.sdk.unsubscribe import UnsubscribeTokens, build_link
from tests.integration.test_serve import UNSUBSCRIBE, children, is_writer, server_env, start_serve
from tests.processes import stop_group

ORGANIZATION = "00D000000000001AAA"
EMAIL, PHONE = "jeanne.martin@example.com", "+33612345678"


def every_secret() -> dict[str, str]:
    return {
        "CONSENTRY_CONNECTORS": "mailchimp,hubspot,salesforce",
        "CONSENTRY_SUPPRESSION_PEPPER": secrets.token_urlsafe(32),
        "CONSENTRY_UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32),
        "CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN": secrets.token_urlsafe(24),
        "CONSENTRY_HUBSPOT_ACCESS_TOKEN": f"pat-eu1-{secrets.token_hex(16)}",
        "CONSENTRY_HUBSPOT_CLIENT_SECRET": secrets.token_urlsafe(24),
        "CONSENTRY_HUBSPOT_BASE_URL": "http://127.0.0.1:9",
        "CONSENTRY_SALESFORCE_LOGIN_URL": "http://127.0.0.1:9",
        "CONSENTRY_SALESFORCE_CLIENT_ID": secrets.token_urlsafe(16),
        "CONSENTRY_SALESFORCE_CLIENT_SECRET": secrets.token_urlsafe(24),
        "CONSENTRY_SALESFORCE_ORGANIZATION_ID": ORGANIZATION,
        "CONSENTRY_SALESFORCE_WEBHOOK_TOKEN": secrets.token_urlsafe(24),
    }


def raw_request(base: str, request: bytes) -> bytes:
    """A request no HTTP library would send, straight onto the socket."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(4096)


@pytest.mark.integration
def test_serve_logs_each_request_without_any_secret_token_or_address(tmp_path):
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    settings = every_secret()
    log = tmp_path / "serve.log"
    process, base = start_serve(tmp_path, url, settings=settings, log=log)
    try:
        writer = next(pid for pid in children(process.pid) if is_writer(pid))
        inbox_key = environ_of(writer)["CONSENTRY_INBOX_KEY"]
        mailchimp = settings["CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN"]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        answers = {
            "mailchimp check": requests.get(f"{base}/webhooks/mailchimp?token={mailchimp}", timeout=10),
            "mailchimp": requests.post(
                f"{base}/webhooks/mailchimp?token={mailchimp}", data=UNSUBSCRIBE, headers=form, timeout=10
            ),
            "salesforce": requests.post(
                f"{base}/webhooks/salesforce?token={settings['CONSENTRY_SALESFORCE_WEBHOOK_TOKEN']}",
                data=salesforce_opt_out(),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=10,
            ),
            "hubspot": post_hubspot(base, settings["CONSENTRY_HUBSPOT_CLIENT_SECRET"]),
        }
        tokens = UnsubscribeTokens(settings["CONSENTRY_UNSUBSCRIBE_SECRET"])
        link = build_link(make_engine(url), tokens, base_url=base, email=EMAIL, phone=PHONE, channels=("email", "sms"))
        answers["page"] = requests.get(f"{link.url}?lang=en", timeout=10)
        answers["form"] = requests.post(link.url, data={"channels": "sms"}, headers={"Referer": link.url}, timeout=10)
        answers["one-click"] = requests.post(link.url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        for line in (f"GET /webhooks/mailchimp?token={mailchimp}", f"GET {link.url.removeprefix(base)}"):
            # no HTTP version: gunicorn refuses the request line, and logs it in its error log
            assert raw_request(base, f"{line}\r\n\r\n".encode()).startswith(b"HTTP/1.1 400")
        assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 200)
    finally:
        stop_group(process)
    written = log.read_text(errors="replace")
    token = link.url.rsplit("/", 1)[1]
    forbidden = {
        **{name: value for name, value in settings.items() if name != "CONSENTRY_CONNECTORS" and "URL" not in name},
        "inbox key": inbox_key,
        "unsubscribe token": token,
        "its signature": token.rsplit(".", 1)[1],
        "address": EMAIL,
        "Mailchimp's address": "jeanne@example.com",
        "phone": PHONE,
    }
    assert [name for name, value in forbidden.items() if value in written] == []
    assert "token=" not in written
    for line in (
        '"GET /webhooks/mailchimp HTTP/1.1" 200',
        '"POST /webhooks/mailchimp HTTP/1.1" 200',
        '"POST /webhooks/salesforce HTTP/1.1" 200',
        '"POST /webhooks/hubspot HTTP/1.1" 200',
        '"GET /unsubscribe/<token> HTTP/1.1" 200',
        '"POST /unsubscribe/<token> HTTP/1.1" 200',
    ):
        assert line in written, written[-3000:]


def environ_of(pid: int) -> dict[str, str]:
    items = Path(f"/proc/{pid}/environ").read_text().split("\0")
    return dict(item.split("=", 1) for item in items if "=" in item)


def salesforce_opt_out() -> bytes:
    fields = {"Id": "0035g0000000001AAA", "Email": EMAIL, "Phone": PHONE, "HasOptedOutOfEmail": True}
    return outbound.envelope(ORGANIZATION, "04k000000000001", [("04l000000000001", "Contact", fields)])


def post_hubspot(base: str, secret: str) -> requests.Response:
    body = json.dumps(
        [
            {
                "eventId": 1,
                "subscriptionId": 1,
                "portalId": 62515,
                "appId": 54321,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": "contact.privacyDeletion",
                "attemptNumber": 0,
                "objectId": 1234,
                "changeSource": "GDPR",
            }
        ]
    ).encode()
    stamp = str(int(time.time() * 1000))
    url = f"{base}/webhooks/hubspot"
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature_v3(secret.encode(), "POST", url, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }
    return requests.post(url, data=body, headers=headers, timeout=10)


def test_a_failing_request_names_its_path_in_the_log_without_the_unsubscribe_token(tmp_path):
    """Flask logs "Exception on <path>" for a 500: the web process's app hides the token there too."""
    url = f"sqlite:///{tmp_path / 'consentry.db'}"
    env = server_env(tmp_path, url) | {"CONSENTRY_UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32)}
    probe = (
        "import consentry.webhook_server.wsgi as served\n"
        "def broken(token):\n"
        "    raise RuntimeError('the database went away')\n"
        "served.app.view_functions['unsubscribe.page'] = broken\n"
        "print(served.app.test_client().get('/unsubscribe/SECRET-TOKEN?lang=SECRET-QUERY').status_code)\n"
    )
    upgrade(url)
    shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == "500", shown.stderr[-2000:]
    assert "Exception on /unsubscribe/<token> [GET]" in shown.stderr
    assert "SECRET" not in shown.stderr
