"""A local, stateful HubSpot for tests and the demo (facts: vendors/CONTRACTS.md §1; specs in
HubSpot/HubSpot-public-api-spec-collection; shapes the official `hubspot-api-client` accepts).

`create_app()` serves CRM contacts v3 (records, batches, search, GDPR deletion), contact properties, communication
preferences v3 and v4, the webhooks management API of one app with signed, batched, retried deliveries, and the
OAuth refresh-token grant, behind HubSpot's authentication, rate limits and error bodies. Each concern has its
module in this package; this one wires them and holds the account in `app.extensions["hubspot_sandbox"]`.
Admin endpoints live under /_sandbox/ (see `admin`).
"""

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, request

from consentry.connectors.sandbox_kit import ADMIN_PREFIX, CallCounter, Faults, StateFile, closes_with, install_faults

from . import (
    admin,
    auth,
    contacts,
    preferences,
    privacy,
    properties,
    search,
    webhooks,
)
from .auth import TokenBook, authenticate
from .consent import SubscriptionBook
from .delivery import WebhookOutbox
from .errors import correlation_id, error_response, install_error_handlers
from .limits import TEN_SECONDLY, HubSpotLimits, rate_limited
from .portal import HubSpotPortal, initial_state

DEFAULT_TOKEN = "pat-eu1-sandbox-0000-0000-000000000000"  # a private-app token; override with the env variable
DEFAULT_CLIENT_SECRET = "hubspot-sandbox-client-secret"
DEFAULT_REFRESH_TOKEN = "sandbox-refresh-token"
DEFAULT_DEVELOPER_API_KEY = "sandbox-developer-hapikey"
APP_ID = 54321
PORTAL_ID = 62515
SEARCH_PATH = "/crm/v3/objects/contacts/search"


class HubSpotSandbox:
    """One HubSpot account and one app: records, consent, credentials, limits, webhook outbox and counters."""

    def __init__(
        self,
        state_path=None,
        *,
        tokens: TokenBook,
        limits: HubSpotLimits,
        outbox: WebhookOutbox,
        app_id: int = APP_ID,
        portal_id: int = PORTAL_ID,
        gdpr: bool = True,
        v4_batch_limit: int | None = None,
    ):
        self.app_id, self.portal_id, self.gdpr, self.v4_batch_limit = app_id, portal_id, gdpr, v4_batch_limit
        self.tokens, self.limits, self.outbox = tokens, limits, outbox
        self.state = StateFile(state_path, lambda: initial_state(portal_id))
        self.portal = HubSpotPortal(self.state, emit=self._emit)
        self.consent = SubscriptionBook(self.portal)
        self.calls = CallCounter()
        self._quiet = threading.local()

    def _emit(self, event: dict) -> None:
        if getattr(self._quiet, "on", False):
            return
        for url, full in webhooks.fan_out(self.state.data, self.app_id, self.portal_id, event):
            self.outbox.publish(url, full)

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Changes made inside announce nothing (seeding data that already existed)."""
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = False

    def close(self) -> None:
        self.outbox.close()


def create_app(
    state_path=None,
    *,
    faults: Faults | None = None,
    access_token: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    refresh_token: str | None = None,
    developer_api_key: str | None = None,
    rate_limit: tuple[int, float] = (190, 10.0),
    search_rate: tuple[int, float] = (5, 1.0),
    daily_limit: int = 650_000,
    token_ttl: int = 1800,
    app_id: int = APP_ID,
    portal_id: int = PORTAL_ID,
    gdpr: bool = True,
    v4_batch_limit: int | None = None,
    signature_version: str = "v1",
    webhook_batch_size: int = 100,
    webhook_flush_interval: float | None = 0.1,
    webhook_max_attempts: int = 11,
    webhook_backoff: Callable[[int], float] | None = None,
) -> Flask:
    """The sandbox app.

    Credentials default to `CONSENTRY_HUBSPOT_SANDBOX_*` variables (TOKEN, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
    HAPIKEY), then to the DEFAULT_* test values above; without a client id the token endpoint takes any non-empty
    one. `gdpr` makes a legal basis and its explanation mandatory to subscribe. `signature_version` is the legacy
    `X-HubSpot-Signature` version sent beside v3. `webhook_flush_interval=None` keeps events until
    `POST /_sandbox/webhooks/flush`. HubSpot retries a failed delivery up to 10 times (11 attempts)."""
    env = os.environ.get
    tokens = TokenBook(
        private_tokens={access_token or env("CONSENTRY_HUBSPOT_SANDBOX_TOKEN") or DEFAULT_TOKEN},
        client_id=client_id or env("CONSENTRY_HUBSPOT_SANDBOX_CLIENT_ID"),
        client_secret=client_secret or env("CONSENTRY_HUBSPOT_SANDBOX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
        refresh_tokens={refresh_token or env("CONSENTRY_HUBSPOT_SANDBOX_REFRESH_TOKEN") or DEFAULT_REFRESH_TOKEN},
        developer_api_key=developer_api_key or env("CONSENTRY_HUBSPOT_SANDBOX_HAPIKEY") or DEFAULT_DEVELOPER_API_KEY,
        token_ttl=token_ttl,
    )
    outbox = WebhookOutbox(
        secret=tokens.client_secret,
        legacy_version=signature_version,
        batch_size=webhook_batch_size,
        flush_interval=webhook_flush_interval,
        max_attempts=webhook_max_attempts,
        backoff=webhook_backoff,
    )
    sandbox = HubSpotSandbox(
        state_path,
        tokens=tokens,
        limits=HubSpotLimits(rolling=rate_limit, search=search_rate, daily=daily_limit),
        outbox=outbox,
        app_id=app_id,
        portal_id=portal_id,
        gdpr=gdpr,
        v4_batch_limit=v4_batch_limit,
    )
    app = Flask(__name__)
    app.extensions["hubspot_sandbox"] = sandbox
    closes_with(app, sandbox.close)
    install_error_handlers(app)
    _install_guard(app, sandbox)
    install_faults(
        app,
        faults or Faults(),
        rate_limited=lambda: rate_limited(TEN_SECONDLY, sandbox.limits.headers(g.get("token", ""))),
        server_error=lambda status: error_response(status, "INTERNAL_ERROR", "internal error"),
    )
    for blueprint in (
        auth.blueprint,
        search.blueprint,
        privacy.blueprint,
        contacts.blueprint,
        properties.blueprint,
        preferences.v3,
        preferences.v4,
        webhooks.blueprint,
        admin.blueprint,
    ):
        app.register_blueprint(blueprint)
    return app


def _install_guard(app: Flask, sandbox: HubSpotSandbox) -> None:
    """Count the call, authenticate it, apply the token's limits; then add the quota headers to the answer."""

    @app.before_request
    def _guard() -> Response | None:
        correlation_id()
        if request.path.startswith(ADMIN_PREFIX):
            return None
        rule = request.url_rule.rule if request.url_rule else request.path
        sandbox.calls.add(f"{request.method} {rule}")
        if request.path == "/oauth/v1/token":
            return None
        g.token = authenticate(sandbox.tokens)
        g.search = request.path == SEARCH_PATH
        refused = sandbox.limits.admit(g.token, search=g.search)
        if refused:
            return rate_limited(refused, sandbox.limits.headers(g.token, search=g.search))
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        if request.path.startswith(ADMIN_PREFIX):
            return response
        response.headers["X-HubSpot-Correlation-Id"] = correlation_id()
        if g.get("token") and response.status_code != 429:
            response.headers.update(sandbox.limits.headers(g.token, search=g.get("search", False)))
        return response
