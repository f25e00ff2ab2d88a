"""A WSGI wrapper that keeps every request a sandbox receives, for tests that count a connector's API requests on
the vendor's side rather than trust the connector's own count."""

import threading
from collections.abc import Callable


class Received:
    """Every HTTP request the app receives, as (method, path), whatever it answers; `hooks` run as a request
    arrives, before the app handles it (someone else acting in the vendor at that moment)."""

    def __init__(self, app):
        self.app = app
        self.requests: list[tuple[str, str]] = []
        self.hooks: list[Callable[[str, str], None]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        arrived = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
        with self.lock:
            self.requests.append(arrived)
        for hook in self.hooks:
            hook(*arrived)
        return self.app(environ, start_response)

    def since(self, mark: int) -> list[tuple[str, str]]:
        with self.lock:
            return self.requests[mark:]
