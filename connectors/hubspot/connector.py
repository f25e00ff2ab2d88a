"""HubSpot: CRM contacts v3, communication preferences v4, consent properties, and app webhooks.

Opt-outs are written through communication preferences (unsubscribe-all, or per subscription type), never through
the read-only `hs_email_optout`. Re-subscription happens only through v4 with a legal basis, and only when the sync
says the ledger holds a newer, explicit, provable consent. Erasure is HubSpot's GDPR delete, contact by contact.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

import marshmallow
import requests

from consentry.connectors.base import (
    AT_LEAST_ONE,
    OPT_OUTS,
    RIGHTS_REQUESTS,
    Connector,
    ConnectorConfig,
    ConsentTag,
    DataSubject,
    ErasureReport,
    ExportedRecord,
    InboundEvent,
    RemoteContact,
    Unsubscribe,
    WriteReport,
    batched,
    secret_field,
)
from consentry.sdk.consent_state import ALL_CHANNELS, EventKind
from consentry.sdk.countries import jurisdiction_of_country
from consentry.sdk.errors import ConnectorError
from consentry.sdk.http import Credentials, RateLimiter, ResponsePolicy, Transport, Verdict
from consentry.sdk.webhooks import WebhookRequest

from .webhooks import HubSpotWebhookVerifier

BATCH_SIZE = 100
SEARCH_PAGE = 200
SEARCH_MAX_RESULTS = 10_000  # one search query pages through no more (HubSpot's documented cap)
# A webhook's look-up: one try within HubSpot's 5 s wait for the answer; HubSpot's own retry is the retry.
LOOKUP_ATTEMPTS, LOOKUP_TIMEOUT = 1, (2.0, 2.5)
CONTACT_PROPERTIES = ["email", "phone", "mobilephone", "hs_email_optout", "lastmodifieddate", "country"]
LEGAL_BASIS = {  # Consentry's legal basis -> HubSpot's
    "consent": "CONSENT_WITH_NOTICE",
    "soft_opt_in": "LEGITIMATE_INTEREST_CLIENT",
    "legitimate_interest": "LEGITIMATE_INTEREST_OTHER",
    "contract": "PERFORMANCE_OF_CONTRACT",
}


class HubSpotConfig(ConnectorConfig):
    access_token = secret_field(load_default=None)
    refresh_token = secret_field(load_default=None)
    client_id = marshmallow.fields.String(load_default=None)
    client_secret = secret_field(load_default=None)  # the app's secret: OAuth refresh and webhook signatures
    rate_limit = marshmallow.fields.Integer(load_default=190, validate=AT_LEAST_ONE)  # requests per rolling 10 s
    search_rate = marshmallow.fields.Integer(load_default=4, validate=AT_LEAST_ONE)  # search requests per second
    subscription_ids = marshmallow.fields.List(marshmallow.fields.Integer(validate=AT_LEAST_ONE), load_default=list)
    status_property = marshmallow.fields.String(load_default="consentry_status")
    page_size = marshmallow.fields.Integer(load_default=100, validate=marshmallow.validate.Range(1, 100))

    @marshmallow.validates_schema
    def _some_credentials(self, data, **_kwargs):
        if not data.get("access_token") and not (data.get("refresh_token") and data.get("client_secret")):
            raise marshmallow.ValidationError(
                "an access token, or a refresh token with the client secret", "access_token"
            )


class HubSpotToken(Credentials):
    """A private-app token, or an OAuth access token refreshed with the refresh token when HubSpot refuses it."""

    def __init__(self, config: dict, token_url: str):
        self.config, self.token_url = config, token_url
        self.token = config.get("access_token")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def refresh(self, session: requests.Session) -> bool:
        if not (self.config.get("refresh_token") and self.config.get("client_secret")):
            return False
        answer = session.post(
            self.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": self.config.get("client_id") or "",
                "client_secret": self.config["client_secret"],
                "refresh_token": self.config["refresh_token"],
            },
            timeout=30,
        )
        if answer.status_code != 200:
            return False
        self.token = answer.json().get("access_token")
        return bool(self.token)


class HubSpotPolicy(ResponsePolicy):
    def classify(self, response: requests.Response) -> Verdict:
        if response.status_code == 429:
            policy = _json(response).get("policyName", "")
            if policy == "DAILY":
                return Verdict("fail", code="DAILY_LIMIT", message="the daily API limit is spent")
            wait = 1.0 if policy == "SECONDLY" else 10.0  # HubSpot's own client waits this long
            return Verdict("retry", wait=wait, code="RATE_LIMITED", message="rate limited")
        verdict = super().classify(response)
        if verdict.action == "fail":
            category = _json(response).get("category") or verdict.code
            return Verdict("fail", code=str(category), message=f"{category} ({response.status_code})")
        return verdict

    def read_quota(self, response: requests.Response) -> dict:
        names = {
            "X-HubSpot-RateLimit-Remaining": "remaining",
            "X-HubSpot-RateLimit-Max": "max",
            "X-HubSpot-RateLimit-Daily-Remaining": "daily_remaining",
        }
        return {
            key: int(response.headers[name]) for name, key in names.items() if response.headers.get(name, "").isdigit()
        }


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class HubSpotConnector(Connector):
    name = "hubspot"
    capabilities = OPT_OUTS | RIGHTS_REQUESTS
    sandbox = "consentry.connectors.hubspot.sandbox"
    config_schema = HubSpotConfig

    def __init__(self, config, **options):
        super().__init__(config, **options)
        root = (self.config["base_url"] or "https://api.hubapi.com").rstrip("/")
        credentials = HubSpotToken(self.config, f"{root}/oauth/v1/token")
        common = {"policy": HubSpotPolicy(), "credentials": credentials, "sleep": self.sleep, "vendor": "hubspot"}
        self.transport = Transport(
            root, limiter=RateLimiter(self.config["rate_limit"], 10.0, sleep=self.sleep), **common
        )
        self.search = Transport(
            root,
            limiter=RateLimiter(self.config["search_rate"], 1.0, sleep=self.sleep),
            session=self.transport.session,
            **common,
        )
        self.search.calls = self.transport.calls  # one counter for every call made to HubSpot
        self._property_ready = False

    # -- contacts ------------------------------------------------------------------------------------------------

    def fetch_contacts(self, since: datetime | None = None) -> Iterator[RemoteContact]:
        if since is None:
            yield from self._list_all()
        else:
            yield from self._search_since(since)

    def _list_all(self) -> Iterator[RemoteContact]:
        after, seen = None, set()
        while True:
            params = {"limit": self.config["page_size"], "properties": ",".join(self._properties())}
            if after:
                params["after"] = after
            page = self.transport.request("GET", "/crm/v3/objects/contacts", params=params, kind="list contacts").json()
            yield from (self._contact(item) for item in page.get("results", []))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or after in seen:
                return
            seen.add(after)

    def _search_since(self, since: datetime) -> Iterator[RemoteContact]:
        """Changed contacts through the search endpoint, which has its own, lower rate limit.

        One search pages through at most 10,000 results: past that, a new search starts from the last
        modification date seen (contacts sharing that instant are read twice, which is harmless)."""
        stamp = str(int(since.astimezone(UTC).timestamp() * 1000))
        while True:
            read, total, last = 0, 0, stamp
            for page in self._search_pages(stamp):
                total = int(page.get("total") or 0)
                for item in page.get("results", []):
                    read += 1
                    last = (item.get("properties") or {}).get("lastmodifieddate") or last
                    yield self._contact(item)
            if read >= total:
                return
            restart = _epoch_ms(last)
            if restart is None or restart == stamp:  # 10,000 changes in one millisecond: read everything
                yield from self._list_all()
                return
            stamp = restart

    def _search_pages(self, stamp: str) -> Iterator[dict]:
        after = None
        while True:
            body = {
                "filterGroups": [
                    {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": stamp}]}
                ],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": self._properties(),
                "limit": SEARCH_PAGE,
            }
            if after:
                body["after"] = after
            page = self.search.request("POST", "/crm/v3/objects/contacts/search", json=body, kind="search").json()
            yield page
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or int(after) + SEARCH_PAGE > SEARCH_MAX_RESULTS:
                return

    def _properties(self) -> list[str]:
        per_subscription = [name for name in self._opt_out_properties() if name not in CONTACT_PROPERTIES]
        return [*CONTACT_PROPERTIES, *per_subscription, self.config["status_property"]]

    def _opt_out_properties(self) -> list[str]:
        """Out of all email, then out of each subscription type Consentry manages (`subscription_ids`): leaving one
        of those is an objection to the prospecting it carries. Other types (service mail, say) are not ours."""
        return ["hs_email_optout", *(f"hs_email_optout_{number}" for number in self.config["subscription_ids"])]

    def _contact(self, item: dict) -> RemoteContact:
        properties = item.get("properties") or {}
        opted_out = any(properties.get(name) == "true" for name in self._opt_out_properties())
        return RemoteContact(
            system=self.name,
            record_id=str(item["id"]),
            email=properties.get("email") or None,
            phone=properties.get("mobilephone") or properties.get("phone") or None,
            opted_out=frozenset({"email"}) if opted_out else frozenset(),
            updated_at=_time(item.get("updatedAt")),
            attributes={
                "hs_email_optout": properties.get("hs_email_optout") == "true",
                "country": properties.get("country"),
                "jurisdiction": jurisdiction_of_country(properties.get("country")),
                "status": properties.get(self.config["status_property"]),
            },
        )

    # -- writes --------------------------------------------------------------------------------------------------

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        """Consentry's verdicts in a custom property (created once), 100 contacts per upsert by email. `calls`
        counts every API request sent, the status property's check and creation included (see `_counted`)."""
        return self._counted(lambda: self._apply_consent(tags))

    def _apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        self._ensure_status_property()
        report = WriteReport()
        resubscribe: list[ConsentTag] = []
        for chunk in batched((tag for tag in tags if tag.email), BATCH_SIZE):
            inputs = [
                {
                    "id": tag.email,
                    "idProperty": "email",
                    "properties": {self.config["status_property"]: _status_text(tag)},
                }
                for tag in chunk
            ]
            report.merge(self._batch("/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs}, "upsert"))
            resubscribe.extend(tag for tag in chunk if tag.known.get("resubscribe") and tag.legal_basis)
        if resubscribe:
            report.merge(self._resubscribe(resubscribe))
        return report

    def _resubscribe(self, tags: list[ConsentTag]) -> WriteReport:
        """Only through v4, with a legal basis: the sync asks for it when the ledger proves a newer consent."""
        report = WriteReport()
        inputs = [
            {
                "subscriberIdString": tag.email,
                "channel": "EMAIL",
                "statusState": "SUBSCRIBED",
                "subscriptionId": subscription,
                "legalBasis": LEGAL_BASIS.get(tag.legal_basis or "", "CONSENT_WITH_NOTICE"),
                "legalBasisExplanation": "Consentry: newer explicit consent on file",
            }
            for tag in tags
            for subscription in self.config["subscription_ids"]
        ]
        for chunk in batched(inputs, BATCH_SIZE):
            report.merge(
                self._batch("/communication-preferences/v4/statuses/batch/write", {"inputs": chunk}, "v4 write")
            )
        return report

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        """Unsubscribe from all email (or from the configured subscription types); already unsubscribed is fine.
        `calls` counts every API request sent, retries included (see `_counted`)."""
        return self._counted(lambda: self._push_unsubscribes(items))

    def _push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        report = WriteReport()
        emails = (item.email for item in items if item.email and (item.channels & {"email", "all"}))
        for chunk in batched(emails, BATCH_SIZE):
            if self.config["subscription_ids"]:
                inputs = [
                    {
                        "subscriberIdString": email,
                        "channel": "EMAIL",
                        "statusState": "UNSUBSCRIBED",
                        "subscriptionId": subscription,
                    }
                    for email in chunk
                    for subscription in self.config["subscription_ids"]
                ]
                body, path = {"inputs": inputs}, "/communication-preferences/v4/statuses/batch/write"
            else:
                body, path = (
                    {"inputs": chunk},
                    "/communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL",
                )
            report.merge(self._batch(path, body, "unsubscribe"))
        return report

    def _batch(self, path: str, body: dict, kind: str) -> WriteReport:
        payload = self.transport.request("POST", path, json=body, kind=kind).json()
        report = WriteReport()
        report.applied = len(payload["results"])  # in every batch answer: without it, nothing says the write happened
        for error in payload.get("errors", []):
            category = str(error.get("category") or error.get("subCategory") or "ERROR")
            if category in ("OBJECT_NOT_FOUND",):
                report.not_found += 1
            else:
                report.failed.append((-1, category))
        return report

    def _ensure_status_property(self) -> None:
        if self._property_ready:
            return
        name = self.config["status_property"]
        try:
            self.transport.request("GET", f"/crm/v3/properties/contacts/{name}", kind="read property")
        except ConnectorError as error:
            if error.status != 404:
                raise
            definition = {
                "name": name,
                "label": "Consentry status",
                "type": "string",
                "fieldType": "text",
                "groupName": "contactinformation",
                "description": "Consentry's verdict per channel: may this contact be prospected, and how.",
            }
            try:
                self.transport.request("POST", "/crm/v3/properties/contacts", json=definition, kind="create property")
            except ConnectorError as conflict:
                if conflict.status != 409:  # created meanwhile by another run
                    raise
        self._property_ready = True

    # -- rights requests -----------------------------------------------------------------------------------------

    def erase_person(self, subject: DataSubject) -> ErasureReport:
        """HubSpot's GDPR delete, one call per contact: not restorable (a plain delete is, for 90 days), and the
        address is blocklisted for HubSpot's UI and imports. A contact found then gone by the time of its delete
        (a retried call whose first attempt worked, or a user's deletion) is reported too: its echo is ours.
        `calls` counts every API request sent, the look-ups and retries included (see `_counted`)."""
        return self._counted(lambda: self._erase(subject))

    def _erase(self, subject: DataSubject) -> ErasureReport:
        report = ErasureReport()
        for record_id in self._contacts_of(subject, ["email"]):
            try:
                self.transport.request(
                    "POST", "/crm/v3/objects/contacts/gdpr-delete", json={"objectId": record_id}, kind="gdpr delete"
                )
            except ConnectorError as error:
                if error.status != 404:
                    raise
            report.deleted.append(record_id)
        if report.deleted:
            report.method = "gdpr_delete"
        return report

    def export_person(self, subject: DataSubject) -> list[ExportedRecord]:
        """Each contact with every property the portal defines, as HubSpot returns it, then the subscription
        statuses of its address (they belong to the address, not the record)."""
        if not (subject.email or subject.record_ids):
            return []
        answer = self.transport.request("GET", "/crm/v3/properties/contacts", kind="read properties")
        names = [str(definition["name"]) for definition in answer.json()["results"]]
        found = self._contacts_of(subject, names)
        records = [ExportedRecord(self.name, "contact", record_id, item) for record_id, item in found.items()]
        owners = {item["properties"].get("email"): record_id for record_id, item in found.items()}
        emails = sorted(email for email in owners if isinstance(email, str) and email)
        for chunk in batched(emails, BATCH_SIZE):
            statuses = self.transport.request(
                "POST",
                "/communication-preferences/v4/statuses/batch/read?channel=EMAIL",
                json={"inputs": chunk},
                kind="read statuses",
            ).json()["results"]
            records.extend(
                ExportedRecord(self.name, "subscription_statuses", owners[result["subscriberIdString"]], result)
                for result in statuses
                if result["subscriberIdString"] in owners
            )
        return records

    def _contacts_of(self, subject: DataSubject, properties: list[str]) -> dict[str, dict]:
        """The live contacts of a person, by id: the one holding the address, and those Consentry synced from
        HubSpot (found even when their address was changed there). HubSpot is not searched by phone."""
        lookups: list[dict] = [{"inputs": [{"id": subject.email}], "idProperty": "email"}] if subject.email else []
        lookups.extend({"inputs": [{"id": i} for i in chunk]} for chunk in batched(subject.record_ids, BATCH_SIZE))
        found: dict[str, dict] = {}
        for body in lookups:
            answer = self.transport.request(
                "POST",
                "/crm/v3/objects/contacts/batch/read",
                json={**body, "properties": properties},
                kind="read person",
            )
            for item in answer.json()["results"]:  # the ids it does not know are listed apart, in a 207
                found.setdefault(str(item["id"]), item)
        return found

    # -- webhooks ------------------------------------------------------------------------------------------------

    def webhook_verifier(self) -> HubSpotWebhookVerifier:
        return HubSpotWebhookVerifier([self.config["client_secret"]], clock=self.clock)

    def parse_webhook(self, request: WebhookRequest) -> Sequence[InboundEvent]:
        """Opt-out property changes, and privacy deletions (an erasure, named by the contact's id alone: the server
        finds the person through the contacts it synced). The plain deletion HubSpot sends beside each privacy
        deletion, and any other deletion, is no consent change. Duplicates and disorder are handled by the keys."""
        events = json.loads(request.body)
        if not isinstance(events, list):
            raise ValueError("a HubSpot delivery is a JSON array")
        parsed = []
        opt_out_properties = self._opt_out_properties()
        for event in events:
            if not isinstance(event, dict):
                raise ValueError("each HubSpot event is a JSON object")
            kind_and_channel = _meaning(event, opt_out_properties)
            if kind_and_channel is None:
                continue
            kind, channel = kind_and_channel
            kind_name = event.get("subscriptionType") or event.get("eventType")
            erasure = kind_name == "contact.privacyDeletion"
            key = ":".join(
                str(event.get(part, ""))
                for part in ("portalId", "objectId", "propertyName", "propertyValue", "occurredAt")
            )
            parsed.append(
                InboundEvent(
                    event_key=f"hubspot:{kind_name}:{key}",
                    kind=kind,
                    channel=channel,
                    occurred_at=datetime.fromtimestamp(_whole_number(event["occurredAt"], _LATEST_MS) / 1000, UTC),
                    system=self.name,
                    record_id=str(_whole_number(event["objectId"])),
                    origin=str(event.get("changeSource", "unknown")),
                    vendor_type=str(kind_name),
                    erasure=erasure,
                )
            )
        return parsed

    def find_identities(self, events: Sequence[InboundEvent]) -> Sequence[InboundEvent]:
        """Deliveries carry contact ids only: one batch read finds the addresses (deleted contacts keep none, so
        privacy deletions are never looked up and come back unchanged).

        These contacts were never synced, so without an answer their events could not be recorded: a failed
        look-up raises, the delivery gets a 503 and HubSpot sends it again."""
        ids = sorted(
            {
                event.record_id
                for event in events
                if event.vendor_type == "contact.propertyChange" and event.record_id is not None
            }
        )
        if not ids:
            return events
        answer = self.transport.request(
            "POST",
            "/crm/v3/objects/contacts/batch/read",
            json={"inputs": [{"id": i} for i in ids], "properties": ["email"]},
            kind="batch read",
            attempts=LOOKUP_ATTEMPTS,
            timeout=LOOKUP_TIMEOUT,
        )
        results = answer.json()["results"]  # read strictly: an empty reading would skip the events with a 200
        found = {str(item["id"]): (item.get("properties") or {}).get("email") for item in results}
        emails: dict[str | None, str] = {
            record_id: email for record_id, email in found.items() if isinstance(email, str)
        }
        return [InboundEvent(**{**event.__dict__, "email": emails.get(event.record_id)}) for event in events]


_LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds


def _whole_number(value, most: int | None = None) -> int:
    """HubSpot's ids and millisecond times are JSON integers (digit strings are taken too); anything else, such
    as a boolean, a fraction or a number past `most`, is a malformed delivery."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (most is not None and value > most):
        raise ValueError("an id or time is not a whole number in range")
    return value


def _meaning(event: dict, opt_out_properties: list[str]) -> tuple[EventKind, str] | None:
    kind = event.get("subscriptionType") or event.get("eventType")
    if kind == "contact.privacyDeletion":
        return EventKind.OBJECTED, ALL_CHANNELS
    if kind == "contact.propertyChange" and event.get("propertyName") in opt_out_properties:
        return (EventKind.WITHDRAWN, "email") if str(event.get("propertyValue")).lower() == "true" else None
    return None


def _status_text(tag: ConsentTag) -> str:
    return ";".join(f"{channel}={verdict}" for channel, verdict in sorted(tag.status.items()))


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _epoch_ms(value: str | None) -> str | None:
    """HubSpot's lastmodifieddate (ISO 8601, or epoch milliseconds) as the epoch milliseconds a filter takes."""
    if not value:
        return None
    if value.isdigit():
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return str(int(moment.timestamp() * 1000))
