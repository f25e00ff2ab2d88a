"""Salesforce: Contacts and Leads by SOQL, opt-out fields set through sObject Collections or Bulk API 2.0, a daily
API budget kept with a reserve, and Outbound Messages (SOAP) for opt-out changes.

Salesforce has no webhook signatures: an outbound message is accepted only for the configured organisation id and,
when set, a secret token in the URL.
"""

import csv
import io
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

import jwt
import marshmallow
import requests

from connectors.base import (
    Capability,
    Connector,
    ConnectorConfig,
    ConsentTag,
    InboundEvent,
    RemoteContact,
    Unsubscribe,
    WebhookAnswer,
    WriteReport,
    batched,
    secret_field,
)
from sdk.consent_state import EventKind
from sdk.errors import ConnectorError, QuotaExhaustedError, WebhookVerificationError
from sdk.http import Credentials, ResponsePolicy, Transport, Verdict
from sdk.webhooks import WebhookRequest, WebhookVerifier

from . import outbound
from .soql import quote

COLLECTION_SIZE = 200
OPT_OUT_FIELD = {
    "email": "HasOptedOutOfEmail",
    "phone_human": "DoNotCall",
    "automated_call": "DoNotCall",
    "sms": "DoNotCall",
    "fax": "HasOptedOutOfFax",
}
FIELD_MEANING = {
    "HasOptedOutOfEmail": (EventKind.WITHDRAWN, "email"),
    "DoNotCall": (EventKind.OBJECTED, "phone_human"),
    "HasOptedOutOfFax": (EventKind.WITHDRAWN, "fax"),
}
READ_FIELDS = [
    "Id",
    "Email",
    "Phone",
    "MobilePhone",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "HasOptedOutOfFax",
    "SystemModstamp",
]


class SalesforceConfig(ConnectorConfig):
    login_url = marshmallow.fields.Url(require_tld=False, load_default="https://login.salesforce.com")
    auth = marshmallow.fields.String(
        load_default="client_credentials", validate=marshmallow.validate.OneOf(["client_credentials", "jwt"])
    )
    client_id = marshmallow.fields.String(required=True)
    client_secret = secret_field(load_default=None)
    username = marshmallow.fields.String(load_default=None)
    private_key = secret_field(load_default=None)  # PEM, for the JWT bearer flow
    api_version = marshmallow.fields.String(load_default="v60.0")
    objects = marshmallow.fields.List(marshmallow.fields.String(), load_default=lambda: ["Contact", "Lead"])
    status_field = marshmallow.fields.String(load_default="Consentry_Status__c")
    bulk_threshold = marshmallow.fields.Integer(load_default=2000)
    daily_reserve = marshmallow.fields.Integer(load_default=500)
    organization_id = marshmallow.fields.String(load_default=None)
    webhook_token = secret_field(load_default=None)


class SalesforceSession(Credentials):
    """Gets an access token (client credentials or JWT bearer) and the instance URL that comes with it."""

    def __init__(self, config: dict):
        self.config = config
        self.token: str | None = None
        self.instance_url: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def refresh(self, session: requests.Session) -> bool:
        url = f"{self.config['login_url'].rstrip('/')}/services/oauth2/token"
        if self.config["auth"] == "jwt":
            claims = {
                "iss": self.config["client_id"],
                "sub": self.config["username"],
                "aud": self.config["login_url"].rstrip("/"),
                "exp": int(time.time()) + 180,
            }
            form = {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": jwt.encode(claims, self.config["private_key"], algorithm="RS256"),
            }
        else:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.config["client_id"],
                "client_secret": self.config["client_secret"] or "",
            }
        answer = session.post(url, data=form, timeout=30)
        if answer.status_code != 200:
            return False
        body = answer.json()
        self.token, self.instance_url = body.get("access_token"), body.get("instance_url")
        return bool(self.token and self.instance_url)


class SalesforcePolicy(ResponsePolicy):
    def classify(self, response: requests.Response) -> Verdict:
        codes = _error_codes(response)
        if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in codes:
            return Verdict("retry", code="RATE_LIMITED", message="REQUEST_LIMIT_EXCEEDED")
        verdict = super().classify(response)
        if verdict.action == "fail" and codes:
            return Verdict("fail", code=codes[0], message=f"{codes[0]} ({response.status_code})")
        return verdict

    def read_quota(self, response: requests.Response) -> dict:
        info = response.headers.get("Sforce-Limit-Info", "")
        if "api-usage=" not in info:
            return {}
        used, _, limit = info.split("api-usage=")[1].split(",")[0].partition("/")
        return {"used": int(used), "max": int(limit)} if used.isdigit() and limit.isdigit() else {}


def _error_codes(response: requests.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [str(item.get("errorCode")) for item in items if isinstance(item, dict) and item.get("errorCode")]


class SalesforceOutboundVerifier(WebhookVerifier):
    """Salesforce signs nothing: the organisation id must match, and the URL token when one is configured."""

    def __init__(self, organization_id: str, token: str | None, **options):
        super().__init__([organization_id], **options)
        self.token = token

    def verify(self, request: WebhookRequest) -> None:
        if self.token and not _same(request.query.get("token", ""), self.token):
            raise WebhookVerificationError("salesforce: wrong or missing URL token")
        try:
            organization, _ = outbound.parse(request.body)
        except Exception:
            raise WebhookVerificationError("salesforce: not a well-formed outbound message") from None
        if organization[:15] != self.secrets[0][:15]:
            raise WebhookVerificationError("salesforce: message from another organisation")


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode(), expected.encode())


class SalesforceConnector(Connector):
    name = "salesforce"
    capabilities = frozenset(Capability)
    config_schema = SalesforceConfig

    def __init__(self, config, **options):
        super().__init__(config, **options)
        self.session = SalesforceSession(self.config)
        self.transport = Transport(
            "", policy=SalesforcePolicy(), credentials=self.session, sleep=self.sleep, vendor="salesforce"
        )

    def _api(self, method: str, path: str, **options) -> requests.Response:
        """Every call: log in when needed, keep the daily reserve, then go through the transport."""
        if self.session.token is None and not self.session.refresh(self.transport.session):
            raise ConnectorError("salesforce: login refused", code="LOGIN_FAILED")
        self.transport.base_url = f"{self.session.instance_url}/services/data/{self.config['api_version']}"
        quota = self.transport.quota
        if quota.get("max") and quota["max"] - quota.get("used", 0) <= self.config["daily_reserve"]:
            raise QuotaExhaustedError(
                "salesforce: the daily API budget is down to its reserve; stopping", code="DAILY_RESERVE"
            )
        return self.transport.request(method, path, **options)

    # -- contacts ------------------------------------------------------------------------------------------------

    def fetch_contacts(self, since: datetime | None = None) -> Iterator[RemoteContact]:
        for object_type in self.config["objects"]:
            query = f"SELECT {', '.join(self._read_fields())} FROM {object_type}"
            if since is not None:
                query += f" WHERE SystemModstamp > {since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
            query += " ORDER BY SystemModstamp"
            page = self._api("GET", "/query", params={"q": query}, kind="query").json()
            while True:
                yield from (self._contact(object_type, record) for record in page.get("records", []))
                if page.get("done", True) or not page.get("nextRecordsUrl"):
                    break
                page = self._api(
                    "GET", f"{self.session.instance_url}{page['nextRecordsUrl']}", kind="query more"
                ).json()

    def _read_fields(self) -> list[str]:
        return [*READ_FIELDS, self.config["status_field"]]

    def _contact(self, object_type: str, record: dict) -> RemoteContact:
        opted_out = frozenset(channel for channel, field in OPT_OUT_FIELD.items() if record.get(field))
        return RemoteContact(
            system=self.name,
            record_id=record["Id"],
            email=record.get("Email"),
            phone=record.get("MobilePhone") or record.get("Phone"),
            opted_out=opted_out,
            updated_at=_time(record.get("SystemModstamp")),
            attributes={"object": object_type, "status": record.get(self.config["status_field"])},
        )

    # -- writes --------------------------------------------------------------------------------------------------

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        updates = [
            {
                "attributes": {"type": tag.known.get("object", "Contact")},
                "id": tag.record_id,
                self.config["status_field"]: ";".join(f"{c}={v}" for c, v in sorted(tag.status.items())),
            }
            for tag in tags
            if tag.record_id
        ]
        return self._update(updates)

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        """Set the opt-out fields of every Contact and Lead with these addresses; unknown addresses are no error."""
        report = WriteReport()
        updates = []
        for chunk in batched([item for item in items if item.email], COLLECTION_SIZE):
            fields_by_email = {item.email.lower(): _opt_out_fields(item.channels) for item in chunk}
            emails = ", ".join(quote(email) for email in fields_by_email)
            found = set()
            for object_type in self.config["objects"]:
                query = f"SELECT Id, Email FROM {object_type} WHERE Email IN ({emails})"
                for record in self._api("GET", "/query", params={"q": query}, kind="query").json().get("records", []):
                    fields = fields_by_email[record["Email"].lower()]
                    found.add(record["Email"].lower())
                    updates.append({"attributes": {"type": object_type}, "id": record["Id"], **fields})
            report.not_found += len(set(fields_by_email) - found)
        return report.merge(self._update(updates))

    def _update(self, updates: list[dict]) -> WriteReport:
        if not updates:
            return WriteReport()
        if len(updates) >= self.config["bulk_threshold"]:
            return self._bulk_update(updates)
        report = WriteReport()
        for chunk in batched(updates, COLLECTION_SIZE):
            answer = self._api(
                "PATCH", "/composite/sobjects", json={"allOrNone": False, "records": chunk}, kind="collections"
            ).json()
            report.calls += 1
            for position, result in enumerate(answer):
                if result.get("success"):
                    report.applied += 1
                else:
                    code = (result.get("errors") or [{}])[0].get("statusCode", "ERROR")
                    report.failed.append((position, str(code)))
        return report

    def _bulk_update(self, updates: list[dict]) -> WriteReport:
        """One Bulk API 2.0 update job per object: upload, close, poll, read the failures."""
        report = WriteReport()
        by_object: dict[str, list[dict]] = {}
        for update in updates:
            by_object.setdefault(update["attributes"]["type"], []).append(update)
        for object_type, rows in by_object.items():
            columns = ["Id", *sorted({k for row in rows for k in row if k not in ("attributes", "id")})]
            data = io.StringIO()
            writer = csv.writer(data, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row["id"], *(_csv_value(row.get(c)) for c in columns[1:])])
            job = self._api(
                "POST",
                "/jobs/ingest",
                json={"object": object_type, "operation": "update", "contentType": "CSV", "lineEnding": "LF"},
                kind="bulk create",
            ).json()
            self._api(
                "PUT",
                f"/jobs/ingest/{job['id']}/batches",
                data=data.getvalue().encode(),
                headers={"Content-Type": "text/csv"},
                kind="bulk upload",
            )
            self._api("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}, kind="bulk close")
            state = self._wait_for(job["id"])
            report.calls += 4
            report.applied += int(state.get("numberRecordsProcessed", 0)) - int(state.get("numberRecordsFailed", 0))
            report.failed.extend((-1, "BULK_RECORD_FAILED") for _ in range(int(state.get("numberRecordsFailed", 0))))
        return report

    def _wait_for(self, job_id: str, *, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            state = self._api("GET", f"/jobs/ingest/{job_id}", kind="bulk poll").json()
            if state.get("state") in ("JobComplete", "Failed", "Aborted"):
                if state["state"] != "JobComplete":
                    raise ConnectorError(f"salesforce: bulk job ended {state['state']}", code="BULK_JOB_FAILED")
                return state
            if time.monotonic() > deadline:
                raise ConnectorError("salesforce: bulk job still running", retryable=True, code="BULK_JOB_TIMEOUT")
            time.sleep(delay)  # polling waits for real work, whatever sleep the retries use
            delay = min(delay * 1.5, 5.0)

    # -- webhooks ------------------------------------------------------------------------------------------------

    def webhook_verifier(self) -> SalesforceOutboundVerifier:
        return SalesforceOutboundVerifier(
            self.config["organization_id"], self.config["webhook_token"], clock=self.clock
        )

    def parse_webhook(self, request: WebhookRequest) -> Sequence[InboundEvent]:
        _organization, notifications = outbound.parse(request.body)
        events = []
        for notification_id, object_type, fields in notifications:
            moment = _time(fields.get("SystemModstamp")) or datetime.now(UTC)
            for field, (kind, channel) in FIELD_MEANING.items():
                if fields.get(field, "").lower() != "true":
                    continue
                events.append(
                    InboundEvent(
                        event_key=f"salesforce:{notification_id}:{field}",
                        kind=kind,
                        channel=channel,
                        occurred_at=moment,
                        system=self.name,
                        email=fields.get("Email") or None,
                        record_id=fields.get("Id"),
                        vendor_type=f"{object_type}.{field}",
                    )
                )
        return events

    def webhook_answer(self, events: Sequence[InboundEvent]) -> WebhookAnswer:
        return WebhookAnswer(200, outbound.ACK, "text/xml; charset=utf-8")


def _opt_out_fields(channels: frozenset[str]) -> dict[str, bool]:
    if "all" in channels:
        return {field: True for field in set(OPT_OUT_FIELD.values())}
    return {OPT_OUT_FIELD[channel]: True for channel in channels if channel in OPT_OUT_FIELD}


def _csv_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
