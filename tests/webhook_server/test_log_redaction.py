"""The access line of `consentry serve` for requests built to smuggle a secret past it."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import SafeAtoms

from consentry.webhook_server.log_redaction import RedactingLogger

FORMAT = Config().access_log_format  # gunicorn's default, the combined format


def access_line(raw_uri: str, path_info: str, **headers) -> str:
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": raw_uri,
        "PATH_INFO": path_info,
        "QUERY_STRING": raw_uri.partition("?")[2],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    response = SimpleNamespace(status="200 OK", headers=[("Set-Cookie", "session=SECRET")], sent=2)
    request = SimpleNamespace(headers=[(name.upper(), value) for name, value in headers.items()])
    atoms = RedactingLogger(Config()).atoms(response, request, environ, timedelta(milliseconds=3))
    return FORMAT % SafeAtoms(atoms)


@pytest.mark.parametrize(
    ("raw_uri", "path_info", "shown"),
    [
        ("/webhooks/mailchimp?token=SECRET", "/webhooks/mailchimp", "/webhooks/mailchimp"),
        ("/unsubscribe/SECRET", "/unsubscribe/SECRET", "/unsubscribe/<token>"),
        ("/unsubscribe%2FSECRET", "/unsubscribe/SECRET", "/unsubscribe/<token>"),  # routed like the plain one
        ("//unsubscribe//SECRET/", "//unsubscribe//SECRET/", "//unsubscribe/<token>"),
        ("/Unsubscribe/SECRET?lang=fr", "/Unsubscribe/SECRET", "/unsubscribe/<token>"),
        ("/x%0A127.0.0.1%20forged", "/x\n127.0.0.1 forged", "/x%0A127.0.0.1%20forged"),  # one line, as sent
    ],
)
def test_the_access_line_shows_the_path_without_its_secrets(raw_uri, path_info, shown):
    line = access_line(raw_uri, path_info, referer=f"https://mail.example{raw_uri}", authorization="Bearer SECRET")
    assert f'"POST {shown} HTTP/1.1" 200 2 "-"' in line
    assert "SECRET" not in line
    assert "\n" not in line
