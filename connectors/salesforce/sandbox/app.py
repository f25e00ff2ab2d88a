"""A local, stateful Salesforce org for tests and the demo (facts: vendors/CONTRACTS.md §3; shapes the official
`simple-salesforce` client accepts).

`create_app()` serves OAuth (JWT bearer, client credentials, revoke), the REST API under /services/data/vXX.X
(limits, describe, sObject rows and upsert by external id, SOQL queries with query locators, sObject Collections)
and Bulk API 2.0 ingest jobs, behind Salesforce's session check, daily API limit (`Sforce-Limit-Info`) and error
bodies; edits of the opt-out fields of Contacts and Leads, through the API or by a user, send Outbound Messages,
as does an Individual marked "Forget this Individual" (a deletion sends none). Deleted records wait in the Recycle
Bin (`recycle_bin`) unless a Bulk API hardDelete job, allowed by the org setting `bulk_api_hard_delete`, removed them.
Each concern has its module in this package; this one wires them and holds the org in
`app.extensions["salesforce_sandbox"]`. Admin endpoints live under /_sandbox/ (see `admin`).

API versions: any `vNN.0` from 31.0 (older ones are retired) is served; `api_version` is the org's own release,
used where Salesforce names one (outbound message URLs, record URLs of admin views). simple-salesforce 1.12
defaults to 59.0 and always builds https:// URLs: tests mount an adapter that sends them over http to 127.0.0.1.
"""

import os
import re
from collections.abc import Callable

from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider

from consentry.connectors.sandbox_kit import (
    CallCounter,
    Faults,
    StateFile,
    closes_with,
    install_faults,
    is_loopback_url,
)

from . import (
    admin,
    auth,
    bulk_api,
    collections,
    query,
    record_ids,
    recycle_bin,
    rest,
    schema,
)
from .auth import TokenBook, bearer_token, load_public_key, unauthorized
from .bulk import BulkJobs
from .errors import SalesforceError, error_response, install_error_handlers
from .limits import LIMIT_MESSAGE, DailyApiLimit
from .org import SalesforceOrg, initial_state
from .outbound import DEFAULT_FIELDS, OutboundMessenger
from .query import QueryLocators
from .schema import OPT_OUT_FIELDS

DEFAULT_ORG_ID = "00D5g000000SANDEA4"  # 15 characters "00D5g000000SAND" and their case suffix
DEFAULT_USER_ID = record_ids.make("005", 1)
DEFAULT_USERNAME = "integration@consentry.example"
DEFAULT_CLIENT_ID = "3MVG9sandbox-consumer-key"
DEFAULT_CLIENT_SECRET = "salesforce-sandbox-client-secret"
API_PREFIX = "/services/data/"
_VERSION = re.compile(r"^/services/data/(v(\d+)\.0)(?:/|$)")
OLDEST_VERSION = 31
NOTIFYING_OBJECTS = ("Contact", "Lead")


class SalesforceSandbox:
    """One org, one connected app and its integration user: records, sessions, limits, jobs, outbound messages."""

    def __init__(
        self,
        state_path=None,
        *,
        org_id: str,
        api_version: str,
        daily_limit: int,
        client_id: str,
        client_secret: str,
        public_key_pem: str | None,
        usernames: set[str] | None,
        login_urls: tuple[str, ...],
        outbound_url: str | None,
        outbound_fields: tuple[str, ...],
        outbound_session_id: bool,
        outbound_max_attempts: int,
        outbound_backoff: Callable[[int], float] | None,
        outbound_flush_interval: float | None,
        page_size: int,
        bulk_step: float,
        session_timeout: float | None,
        external_id_field: str,
        status_field: str,
        bulk_api_hard_delete: bool = False,
        individual_outbound: bool = True,
    ):
        if outbound_url is not None and not is_loopback_url(outbound_url):
            raise ValueError("the outbound endpoint must be a loopback URL")
        self.org_id, self.api_version, self.page_size = org_id, api_version, page_size
        self.client_id, self.client_secret = client_id, client_secret
        self.public_key = load_public_key(public_key_pem) if public_key_pem else None
        self.usernames, self.login_urls = usernames, login_urls
        self.user_id, self.run_as = DEFAULT_USER_ID, DEFAULT_USERNAME
        # org settings (`/_sandbox/settings`): the integration user's "Bulk API Hard Delete" permission, and whether
        # the org has an outbound message for Individuals marked "Forget this Individual"
        self.settings = {"bulk_api_hard_delete": bulk_api_hard_delete, "individual_outbound": individual_outbound}
        self.host_url = "http://127.0.0.1"
        self.state = StateFile(state_path, lambda: {**initial_state(), "outbound_url": outbound_url})
        for key, value in initial_state().items():  # a state file written by an older sandbox
            self.state.data.setdefault(key, value)
        for record in self.state.data["records"].values():
            record.setdefault("IsDeleted", False)
        self.org = SalesforceOrg(
            self.state,
            schema.build(external_id_field, status_field),
            user_id=self.user_id,
            listener=self._changed,
        )
        self.tokens = TokenBook(org_id=org_id, user_id=self.user_id, timeout=session_timeout)
        self.limits = DailyApiLimit(daily_limit)
        self.locators = QueryLocators()
        self.jobs = BulkJobs(
            state=self.state,
            org=self.org,
            step=bulk_step,
            may_hard_delete=lambda: self.settings["bulk_api_hard_delete"],
        )
        self.calls = CallCounter()
        self.outbound = OutboundMessenger(
            organization_id=org_id,
            endpoint=lambda: self.state.data.get("outbound_url"),
            snapshot=self._snapshot,
            server_urls=self._server_urls,
            session_id=self._outbound_session if outbound_session_id else (lambda: None),
            fields=outbound_fields,
            max_attempts=outbound_max_attempts,
            backoff=outbound_backoff,
            flush_interval=outbound_flush_interval,
        )

    def _changed(self, record: dict, before: dict | None, origin: str) -> None:
        """The workflow rules behind the outbound messages: a Contact or Lead created with an opt-out field set, or
        edited so that one of them changes (`ISNEW() && (...) || ISCHANGED(...)`); with `individual_outbound`, an
        Individual created or edited to meet `ShouldForget = true`. Rules run on create and edit, never on delete
        (workflow evaluation criteria offer no delete), so deletions send nothing."""
        if record["_type"] == "Individual":
            forget = bool(record.get("ShouldForget")) and not (before and before.get("ShouldForget"))
            if forget and self.settings["individual_outbound"]:
                self.outbound.notify("Individual", record["Id"])
            return
        if record["_type"] not in NOTIFYING_OBJECTS:
            return
        if before is None:
            fire = any(record.get(name) for name in OPT_OUT_FIELDS)
        else:
            fire = any(bool(record.get(name)) != bool(before.get(name)) for name in OPT_OUT_FIELDS)
        if fire:
            self.outbound.notify(record["_type"], record["Id"])

    def _snapshot(self, record_id: str) -> dict | None:
        with self.state.lock:
            record = self.org.get(record_id)
            return dict(record) if record is not None else None

    def _server_urls(self) -> tuple[str, str]:
        version = self.api_version.lstrip("v")
        return (
            f"{self.host_url}/services/Soap/c/{version}/{self.org_id[:15]}",
            f"{self.host_url}/services/Soap/u/{version}/{self.org_id[:15]}",
        )

    def _outbound_session(self) -> str:
        return self.tokens.issue(username=self.run_as, client_id=self.client_id).token

    def close(self) -> None:
        self.outbound.close()


def create_app(
    state_path=None,
    *,
    faults: Faults | None = None,
    org_id: str = DEFAULT_ORG_ID,
    api_version: str = "v60.0",
    daily_limit: int = 15000,
    client_id: str | None = None,
    client_secret: str | None = None,
    certificate_pem: str | None = None,
    public_key_pem: str | None = None,
    usernames: set[str] | None = None,
    login_urls: tuple[str, ...] = (),
    outbound_url: str | None = None,
    outbound_fields: tuple[str, ...] = DEFAULT_FIELDS,
    outbound_session_id: bool = False,
    outbound_max_attempts: int = 10,
    outbound_backoff: Callable[[int], float] | None = None,
    outbound_flush_interval: float | None = 0.05,
    page_size: int = 2000,
    bulk_step: float = 0.1,
    session_timeout: float | None = 7200,
    external_id_field: str = "Consentry_Key__c",
    status_field: str = "Consentry_Status__c",
    bulk_api_hard_delete: bool = False,
    individual_outbound: bool = True,
) -> Flask:
    """The sandbox app.

    The connected app's consumer key and secret default to `CONSENTRY_SALESFORCE_SANDBOX_CLIENT_ID` and
    `..._CLIENT_SECRET`, then to the DEFAULT_* test values. `certificate_pem` (an X.509 certificate, or
    `public_key_pem`) verifies JWT bearer assertions; without it that grant is refused. `usernames` limits who may
    log in with a JWT (anyone when None). `page_size` is the query page size (Salesforce: 2000); `bulk_step` the
    length of each of the two background steps of a Bulk API job; `outbound_flush_interval=None` keeps outbound
    notifications until `POST /_sandbox/outbound/flush`. `bulk_api_hard_delete` gives the integration user the
    "Bulk API Hard Delete" permission (off, as in Salesforce); `individual_outbound` is the org's outbound message
    for Individuals marked "Forget this Individual" (both can be changed at `/_sandbox/settings`)."""
    env = os.environ.get
    if not re.fullmatch(r"v\d+\.0", api_version):
        raise ValueError("api_version looks like v60.0")
    sandbox = SalesforceSandbox(
        state_path,
        org_id=org_id,
        api_version=api_version,
        daily_limit=daily_limit,
        client_id=client_id or env("CONSENTRY_SALESFORCE_SANDBOX_CLIENT_ID") or DEFAULT_CLIENT_ID,
        client_secret=client_secret or env("CONSENTRY_SALESFORCE_SANDBOX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
        public_key_pem=certificate_pem or public_key_pem,
        usernames=usernames,
        login_urls=tuple(url.rstrip("/") for url in login_urls),
        outbound_url=outbound_url,
        outbound_fields=outbound_fields,
        outbound_session_id=outbound_session_id,
        outbound_max_attempts=outbound_max_attempts,
        outbound_backoff=outbound_backoff,
        outbound_flush_interval=outbound_flush_interval,
        page_size=page_size,
        bulk_step=bulk_step,
        session_timeout=session_timeout,
        external_id_field=external_id_field,
        status_field=status_field,
        bulk_api_hard_delete=bulk_api_hard_delete,
        individual_outbound=individual_outbound,
    )
    app = Flask(__name__)
    assert isinstance(app.json, DefaultJSONProvider)  # Flask's own, unless configured otherwise
    app.json.sort_keys = False  # Salesforce's key order: attributes first, totalSize before records
    app.url_map.strict_slashes = False  # simple-salesforce adds a trailing slash to some URLs
    app.extensions["salesforce_sandbox"] = sandbox
    closes_with(app, sandbox.close)
    install_error_handlers(app)
    _install_guard(app, sandbox)
    install_faults(
        app,
        faults or Faults(),
        rate_limited=lambda: error_response(403, "REQUEST_LIMIT_EXCEEDED", LIMIT_MESSAGE),
        server_error=_server_error,
        applies_to=_is_api_call,
    )
    for blueprint in (
        auth.blueprint,
        rest.blueprint,
        query.blueprint,
        collections.blueprint,
        bulk_api.blueprint,
        admin.blueprint,
        recycle_bin.blueprint,
    ):
        app.register_blueprint(blueprint)

    @app.get("/services/data")
    def versions() -> Response:
        latest = int(sandbox.api_version.lstrip("v").split(".")[0])
        return jsonify(rest.versions_list(latest))

    return app


def _is_api_call(path: str) -> bool:
    """REST and Bulk API calls: everything under /services/data/ but the list of versions."""
    return path.startswith(API_PREFIX) and path.rstrip("/") != "/services/data"


def _server_error(status: int) -> Response:
    if status == 503:
        return error_response(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later")
    error_id = record_ids.random("000")[3:13]
    message = f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}"
    return error_response(status, "UNKNOWN_EXCEPTION", message)


def _install_guard(app: Flask, sandbox: SalesforceSandbox) -> None:
    """Every REST call: a known API version, a live session, room under the daily limit; then count it. Every
    answer to a counted call carries `Sforce-Limit-Info`."""

    @app.before_request
    def _guard() -> Response | None:
        sandbox.host_url = request.host_url.rstrip("/")
        if not _is_api_call(request.path):
            return None
        session = sandbox.tokens.check(bearer_token())
        if session is None:
            raise unauthorized()
        version = _VERSION.match(request.path)
        if version is None or int(version.group(2)) < OLDEST_VERSION:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        g.session = session
        if not sandbox.limits.admit():
            return error_response(403, "REQUEST_LIMIT_EXCEEDED", LIMIT_MESSAGE)
        rule = request.url_rule.rule if request.url_rule else request.path
        sandbox.calls.add(f"{request.method} {rule}")
        return None

    @app.after_request
    def _limit_info(response: Response) -> Response:
        if g.get("session") is not None:
            response.headers["Sforce-Limit-Info"] = sandbox.limits.header()
        return response
