"""What `consentry serve` logs about a request carries no secret.

Mailchimp and Salesforce put their webhook secret in the URL (`?token=`), and an unsubscribe link's path is a bearer
token: gunicorn's default access line (the request line, the query string, the referer) wrote them all, and anyone
who read the logs could forge webhooks and unsubscribe people. An access line here keeps the combined format with
the path only: no query string, an unsubscribe token shown as `<token>`, no referer, no header. The error log and
the app's own messages (Flask names the path of a request that failed) go through the same redaction.
"""

import logging
import re
from urllib.parse import quote

from gunicorn.glogging import Logger

_UNSUBSCRIBE_PATH = re.compile(r"/unsubscribe/.*", re.IGNORECASE | re.DOTALL)  # the token and whatever follows
_UNSUBSCRIBE_IN_TEXT = re.compile(r"/unsubscribe/[^\s'\"]+", re.IGNORECASE)
_QUERY_IN_TEXT = re.compile(r"\?[^\s'\"]+")  # up to a space or a quote


def loggable_path(environ) -> str:
    """The path as the app routes it (decoded, so no encoding hides a token), token out, quoted back onto one line."""
    path = _UNSUBSCRIBE_PATH.sub("/unsubscribe/<token>", environ.get("PATH_INFO") or "/")
    return quote(path, safe="/<>:@!$&'()*+,;=~", encoding="latin-1")  # WSGI strings hold the bytes as latin-1


def redact(text: str) -> str:
    """A message with any query string and unsubscribe token taken out."""
    return _UNSUBSCRIBE_IN_TEXT.sub("/unsubscribe/<token>", _QUERY_IN_TEXT.sub("?<redacted>", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


REDACTING_FILTER = RedactingFilter()  # one instance: adding it again to a logger changes nothing


class RedactingLogger(Logger):
    """Gunicorn's logger (`logger_class`) with the access atoms that may hold a secret replaced or left out."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.error_log.addFilter(REDACTING_FILTER)  # "Error handling request /path?query" and the like

    def atoms(self, resp, req, environ, request_time):
        kept = {
            name: value
            for name, value in super().atoms(resp, req, environ, request_time).items()
            if not name.startswith("{")  # headers (Authorization, Cookie, Referer, signatures) and the environ
        }
        path = loggable_path(environ)
        request_line = f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        return kept | {"r": request_line, "U": path, "q": "-", "f": "-", "u": "-"}
