"""What every vendor sandbox shares: fault injection, a state file, webhook deliveries, serving on loopback, and
the interface through which the stack, the demo and the conformance suite drive any sandbox.

A sandbox is a Flask app that emulates one vendor's API faithfully enough for the official client and our
connector; this module keeps the cross-cutting machinery out of each emulator. Each connector that ships one keeps
it in its own subpackage, `connectors/<vendor>/sandbox/`, named by the connector class's `sandbox` attribute; that
package exports the functions of `SandboxPackage` (see `INTERFACE`), so that nothing outside it names the vendor's
keys, paths or admin endpoints.
"""

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from ipaddress import ip_address
from pathlib import Path
from queue import Empty, Queue
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

ADMIN_PREFIX = "/_sandbox"
PROXY_PAGE = "<html><body><h1>Welcome</h1><p>Sign in to continue to the network.</p></body></html>"


@dataclass(frozen=True)
class Person:
    """Someone a sandbox should already hold, in no vendor's terms: each sandbox maps it onto its own records."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    opted_out: bool = False  # already opted out of email in this system (seeded: no webhook announces it)
    country: str | None = None  # ISO 3166-1 alpha-2, where the vendor keeps one
    company: str | None = None  # a professional at a company (Salesforce files them as a Lead, not a Contact)


class SandboxPackage(Protocol):
    """What a connector's sandbox package exports, the same for every vendor (the names are in `INTERFACE`)."""

    def create_app(self, state_path: str | Path | None = None) -> Flask:
        """The emulator, its state in memory or in a JSON file."""

    def connector_settings(self, base_url: str) -> dict[str, str]:
        """The `CONSENTRY_<NAME>_*` settings that point the connector at the sandbox running at `base_url`, webhook
        secrets freshly generated."""

    def point_webhooks(self, base_url: str, webhook_url: str, settings: dict[str, str]) -> None:
        """Make the vendor send its consent webhooks to `webhook_url` (Consentry's `/webhooks/<name>`), signed or
        tokened with what `settings` (from `connector_settings`) holds."""

    def seed(self, base_url: str, people: list[Person]) -> None:
        """Records as they already exist in the vendor: no webhook is sent for them."""

    def unsubscribe(self, base_url: str, email: str) -> None:
        """What a person or a user does in the vendor's own interface: the vendor then sends its webhook."""

    def opted_out(self, base_url: str, email: str) -> bool:
        """Whether the vendor holds this person as opted out of email (every record of theirs, where several)."""

    def holds(self, base_url: str, email: str) -> bool:
        """Whether any record of this person can still be read through the vendor's API (a record in a recycle
        bin, or kept only as an unreadable hash, is not held)."""

    def erase_in_vendor(self, base_url: str, email: str) -> None:
        """What a user does in the vendor's own interface to erase a person under the GDPR (HubSpot's GDPR delete,
        a Salesforce Individual marked to be forgotten, Mailchimp's permanent delete): the vendor then sends its
        webhook where it has one."""


INTERFACE = (
    "create_app",
    "connector_settings",
    "point_webhooks",
    "seed",
    "unsubscribe",
    "opted_out",
    "holds",
    "erase_in_vendor",
)


def set_faults(base_url: str, **faults: Any) -> None:
    """Inject failures into a running sandbox (see `Faults`): every sandbox serves the same admin endpoint."""
    requests.post(f"{base_url}{ADMIN_PREFIX}/faults", json=faults, timeout=5).raise_for_status()


@dataclass
class Faults:
    """Failures to inject, for reliability tests; all off by default.

    `fail_next` makes the next N API requests answer `fail_status`; `error_rate` and `rate_limit_rate` fail a random
    share of requests with a 5xx or the vendor's 429; `garbage_next` makes the next N answer 200 with an HTML page,
    as a misconfigured proxy would; `delay_seconds` slows every answer down.
    """

    fail_next: int = 0
    garbage_next: int = 0
    fail_status: int = 503
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    delay_seconds: float = 0.0
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def update(self, settings: dict[str, Any]) -> None:
        for name in self.public():
            if name in settings:
                setattr(self, name, settings[name])
        if self.seed is not None:
            self._random.seed(self.seed)

    def public(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if not key.startswith("_")}

    def draw(self) -> str | None:
        """'rate_limit', 'error', 'garbage' or None for the request being served."""
        if self.garbage_next > 0:
            self.garbage_next -= 1
            return "garbage"
        if self.fail_next > 0:
            self.fail_next -= 1
            return "rate_limit" if self.fail_status == 429 else "error"
        if self.rate_limit_rate and self._random.random() < self.rate_limit_rate:
            return "rate_limit"
        if self.error_rate and self._random.random() < self.error_rate:
            return "error"
        return None


class CallCounter:
    """API calls per route (`"POST /crm/v3/objects/contacts/batch/upsert"`), for tests that count calls."""

    def __init__(self):
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def install_faults(
    app: Flask,
    faults: Faults,
    *,
    rate_limited: Callable[[], Response],
    server_error: Callable[[int], Response],
    applies_to: Callable[[str], bool] = lambda path: True,
) -> None:
    """Apply `faults` before every API request (those whose path `applies_to`); `/_sandbox/faults` reads (GET)
    and changes (POST) them."""

    @app.before_request
    def _inject() -> Response | None:
        if request.path.startswith(ADMIN_PREFIX) or not applies_to(request.path):
            return None
        if faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        outcome = faults.draw()
        if outcome == "rate_limit":
            return rate_limited()
        if outcome == "error":
            return server_error(faults.fail_status if faults.fail_status >= 500 else 503)
        if outcome == "garbage":
            return Response(PROXY_PAGE, status=200, content_type="text/html")
        return None

    @app.route(f"{ADMIN_PREFIX}/faults", methods=["GET", "POST"])
    def _faults() -> Response:
        if request.method == "POST":
            faults.update(request.get_json(force=True) or {})
        return jsonify(faults.public())


class StateFile:
    """Keeps a sandbox's state (a JSON-serialisable dict) in memory, or in a file when a path is given."""

    def __init__(self, path: str | Path | None, initial: Callable[[], dict[str, Any]]):
        self.path = Path(path) if path else None
        self.lock = threading.RLock()
        if self.path and self.path.exists():
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        else:
            self.data = initial()

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.data), encoding="utf-8")
        temporary.replace(self.path)


def is_loopback_url(url: str) -> bool:
    """Sandboxes deliver webhooks to loopback addresses only: they are test tools, never a way out."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    attempt: int = 0
    accepts: Callable[[requests.Response], bool] | None = None  # default: any 2xx


class WebhookDispatcher:
    """Delivers webhook requests from a background thread, retrying failures with backoff like the vendors do.

    `backoff(attempt)` gives the wait before a retry; deliveries are dropped after `max_attempts`.
    Every outcome is kept in `log` (url, status or error, attempt) for tests and the demo.
    """

    def __init__(self, *, max_attempts: int = 10, backoff: Callable[[int], float] = lambda n: min(0.2 * 2**n, 5.0)):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.log: list[dict[str, Any]] = []
        self._queue: Queue[tuple[float, Delivery]] = Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def send(self, url: str, body: bytes, headers: dict[str, str], *, accepts=None) -> None:
        """Queue a delivery; `accepts(response)` says whether the receiver took it (Salesforce wants an Ack)."""
        if not is_loopback_url(url):
            raise ValueError("sandbox webhooks go to loopback addresses only")
        self._queue.put((time.monotonic(), Delivery(url, body, headers, accepts=accepts)))

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due, delivery = self._queue.get(timeout=0.05)
            except Empty:
                continue
            wait = due - time.monotonic()
            if wait > 0:
                self._queue.put((due, delivery))
                time.sleep(min(wait, 0.05))
                continue
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        try:
            answer = requests.post(delivery.url, data=delivery.body, headers=delivery.headers, timeout=10)
            outcome: int | str = answer.status_code
            delivered = 200 <= answer.status_code < 300 and (delivery.accepts is None or delivery.accepts(answer))
        except requests.RequestException as error:
            outcome, delivered = type(error).__name__, False
        self.log.append({"url": delivery.url, "outcome": outcome, "attempt": delivery.attempt})
        if not delivered and delivery.attempt + 1 < self.max_attempts:
            retry = Delivery(delivery.url, delivery.body, delivery.headers, delivery.attempt + 1, delivery.accepts)
            self._queue.put((time.monotonic() + self.backoff(delivery.attempt), retry))


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: the demo and the tests print what matters themselves."""

    def log_request(self, *_args, **_kwargs) -> None:
        return None


SANDBOX_CLOSE = "consentry_sandbox_close"


def closes_with(app: Any, close: Callable[[], None]) -> None:
    """Register what stops a sandbox's background threads (its webhook dispatcher): `ServerThread.stop` calls it,
    so a sandbox no longer served cannot deliver a retried webhook into whatever listens on that port next."""
    app.extensions[SANDBOX_CLOSE] = close


class ServerThread:
    """Serves a WSGI app on 127.0.0.1 in a thread: for tests and the demo. Port 0 picks a free port. Stopping it
    also closes the app's sandbox, if it registered a `closes_with`."""

    def __init__(self, app, *, port: int = 0, host: str = "127.0.0.1"):
        self._app = app
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"serve-{self.port}", daemon=True)

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> "ServerThread":
        return self.__enter__()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()  # the listening socket now, not whenever it is garbage-collected
        close = getattr(self._app, "extensions", {}).get(SANDBOX_CLOSE)
        if close is not None:
            close()
