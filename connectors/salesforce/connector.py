"""Salesforce: Contacts and Leads by SOQL, opt-out fields set through sObject Collections or Bulk API 2.0, a daily
API budget kept with a reserve, and Outbound Messages (SOAP) for opt-out changes.

With `consent_records: individual` (for orgs that use Salesforce's consent data model) the connector also reads
the Individual linked to each record and its ContactPointTypeConsent rows, and writes OptOut rows on unsubscribe;
it writes an OptIn only when the ledger proves a newer explicit consent (`consent_records`, `consent_reader`,
`consent_writer`). With the default `off` it never touches those objects.

Salesforce has no webhook signatures: an outbound message is accepted only with the secret token in its URL and
for the configured organisation id. Both are required: the organisation id alone is public (every Web-to-Lead form
carries it), so a process with Salesforce enabled and no token refuses to start.

Rights requests (`rights`): an erasure marks the person's Individuals "Forget this Individual" (with consent
records) and deletes their Contacts and Leads, for good when the integration user may hard-delete, else into the
Recycle Bin; an export reads every field of each record. An Individual marked to be forgotten in Salesforce comes
back, through the org's outbound message for Individuals, as an erasure event.
"""

import csv
import io
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jwt
import marshmallow
import requests

from consentry.connectors.base import (
    AT_LEAST_ONE,
    OPT_OUTS,
    RIGHTS_REQUESTS,
    WEB,
    Connector,
    ConnectorConfig,
    ConsentTag,
    DataSubject,
    ErasureReport,
    ExportedRecord,
    InboundEvent,
    RemoteContact,
    Unsubscribe,
    WebhookAnswer,
    WriteReport,
    batched,
    secret_field,
)
from consentry.sdk.consent_state import ALL_CHANNELS, EventKind
from consentry.sdk.countries import jurisdiction_of_country
from consentry.sdk.errors import ConnectorError, QuotaExhaustedError, WebhookVerificationError
from consentry.sdk.http import Credentials, ResponsePolicy, Transport, Verdict
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier

from . import outbound, rights
from .consent_reader import IN_LIMIT, SalesforceConsentReader
from .consent_records import PartyConsent, opt_in_types, parse_time
from .consent_writer import ConsentWritePlan, SalesforceConsentWriter, Target
from .soql import quote

log = logging.getLogger("consentry.salesforce")
COLLECTION_SIZE = 200
KEY_PREFIXES = {"003": "Contact", "00Q": "Lead"}
COUNTRY_FIELD = {"Contact": "MailingCountry", "Lead": "Country"}  # text fields, present in every org
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
    login_url = marshmallow.fields.Url(require_tld=False, schemes=WEB, load_default="https://login.salesforce.com")
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
    bulk_threshold = marshmallow.fields.Integer(load_default=2000, validate=AT_LEAST_ONE)
    daily_reserve = marshmallow.fields.Integer(load_default=500, validate=marshmallow.validate.Range(min=0))
    organization_id = marshmallow.fields.String(  # 00D..., 15 or 18 characters: outbound messages must carry it
        load_default=None, validate=marshmallow.validate.Regexp(r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")
    )
    webhook_token = secret_field(load_default=None)
    # Salesforce's consent data model (Individual, ContactPointTypeConsent): "off" leaves it alone
    consent_records = marshmallow.fields.String(
        load_default="off", validate=marshmallow.validate.OneOf(["off", "individual"])
    )
    data_use_purpose_id = marshmallow.fields.String(
        load_default=None, validate=marshmallow.validate.Regexp(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
    )
    create_individuals = marshmallow.fields.Boolean(load_default=True)


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
    """Salesforce signs nothing: the URL token is the secret, and the organisation id must match too."""

    def __init__(self, organization_id: str | None, token: str | None, **options):
        if not token:
            raise WebhookVerificationError("salesforce: set a webhook URL token")
        super().__init__([organization_id or ""], **options)  # the base drops an empty secret and refuses none
        self.token = token

    def verify(self, request: WebhookRequest) -> None:
        if not _same(request.query.get("token", ""), self.token):
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
    capabilities = OPT_OUTS | RIGHTS_REQUESTS
    sandbox = "consentry.connectors.salesforce.sandbox"
    config_schema = SalesforceConfig
    transient_codes = rights.RETRYABLE  # UNABLE_TO_LOCK_ROW: another process held the record

    def __init__(self, config, **options):
        super().__init__(config, **options)
        self.session = SalesforceSession(self.config)
        self.transport = Transport(
            "", policy=SalesforcePolicy(), credentials=self.session, sleep=self.sleep, vendor="salesforce"
        )
        self._may_hard_delete: bool | None = None  # the Bulk API Hard Delete permission, once a job has told
        self._described: dict[str, list[str]] = {}

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

    @property
    def consent_mode(self) -> bool:
        return self.config["consent_records"] == "individual"

    def fetch_contacts(self, since: datetime | None = None) -> Iterator[RemoteContact]:
        """Every Contact and Lead changed since `since`; with consent records, each page's Individuals and consent
        rows are read in bulk, and records whose Individual or consent rows changed since `since` come too."""
        reader = self._consent_reader() if self.consent_mode else None
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since is not None else None
        for object_type in self.config["objects"]:
            query = f"SELECT {', '.join(self._read_fields(object_type))} FROM {object_type}"
            if stamp is not None:
                query += f" WHERE SystemModstamp > {stamp}"
            query += " ORDER BY SystemModstamp"
            for page in self._pages(query):
                yield from self._contacts(object_type, page, reader)
        if reader is not None and stamp is not None:
            yield from self._contacts_with_changed_consent(reader, stamp)

    def _contacts_with_changed_consent(self, reader: SalesforceConsentReader, stamp: str) -> Iterator[RemoteContact]:
        """Records not changed themselves whose Individual or consent rows were: they were not read above."""
        changed = sorted(reader.changed_since(stamp))
        for object_type in self.config["objects"]:
            for chunk in batched(changed, IN_LIMIT):
                ids = ", ".join(quote(i) for i in chunk)
                query = (
                    f"SELECT {', '.join(self._read_fields(object_type))} FROM {object_type} "
                    f"WHERE IndividualId IN ({ids}) AND SystemModstamp <= {stamp}"
                )
                for page in self._pages(query):
                    yield from self._contacts(object_type, page, reader)

    def _contacts(
        self, object_type: str, page: list[dict], reader: SalesforceConsentReader | None
    ) -> Iterator[RemoteContact]:
        parties = reader.read(record.get("IndividualId") for record in page) if reader is not None else {}
        for record in page:
            yield self._contact(object_type, record, parties.get(record.get("IndividualId") or ""))

    def _pages(self, query: str) -> Iterator[list[dict]]:
        """A SOQL query's records, one page (up to 2000) at a time, following `nextRecordsUrl`."""
        page = self._api("GET", "/query", params={"q": query}, kind="query").json()
        while True:
            yield page["records"]  # read strictly: without them, an opt-out's records would seem not to exist
            if page["done"] or not page.get("nextRecordsUrl"):
                return
            page = self._api("GET", f"{self.session.instance_url}{page['nextRecordsUrl']}", kind="query more").json()

    def _query(self, query: str) -> Iterator[dict]:
        for page in self._pages(query):
            yield from page

    def _read_fields(self, object_type: str) -> list[str]:
        country = [COUNTRY_FIELD[object_type]] if object_type in COUNTRY_FIELD else []
        return [*READ_FIELDS, *country, *(["IndividualId"] if self.consent_mode else []), self.config["status_field"]]

    def _contact(self, object_type: str, record: dict, party: PartyConsent | None = None) -> RemoteContact:
        opted_out = frozenset(channel for channel, field in OPT_OUT_FIELD.items() if record.get(field))
        subscribed: frozenset[str] = frozenset()
        updated_at = _time(record.get("SystemModstamp"))
        attributes = {
            "object": object_type,
            "status": record.get(self.config["status_field"]),
            "jurisdiction": jurisdiction_of_country(record.get(COUNTRY_FIELD.get(object_type, ""))),
        }
        if self.consent_mode:
            attributes["individual_id"] = record.get("IndividualId")
        if party is not None:
            opted_out |= party.opted_out
            subscribed = party.subscribed - opted_out
            if party.changed_at is not None and (updated_at is None or party.changed_at > updated_at):
                updated_at = party.changed_at
        return RemoteContact(
            system=self.name,
            record_id=record["Id"],
            email=record.get("Email"),
            phone=record.get("MobilePhone") or record.get("Phone"),
            opted_out=opted_out,
            subscribed=subscribed,
            updated_at=updated_at,
            attributes=attributes,
        )

    def _consent_reader(self) -> SalesforceConsentReader:
        return SalesforceConsentReader(self._query, purpose=self.config["data_use_purpose_id"], now=self._now)

    def _consent_writer(self) -> SalesforceConsentWriter:
        return SalesforceConsentWriter(
            self._query,
            self._create,
            purpose=self.config["data_use_purpose_id"],
            create_individuals=self.config["create_individuals"],
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- writes --------------------------------------------------------------------------------------------------

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        """Consentry's verdicts in the status field. With consent records, an OptIn only where the sync says the
        ledger proves a newer explicit consent (`known["resubscribe"]` and the legal basis `consent`). `calls` counts
        every API request sent, the look-ups of Individuals and consent rows included (see `_counted`)."""
        return self._counted(lambda: self._apply_consent(tags))

    def _apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        tags = [tag for tag in tags if tag.record_id]
        updates = [
            {
                "attributes": {"type": self._object_of(record_id, tag.known)},
                "id": record_id,
                self.config["status_field"]: ";".join(f"{c}={v}" for c, v in sorted(tag.status.items())),
            }
            for tag in tags
            if (record_id := tag.record_id)  # always true here: names the narrowed id
        ]
        report = self._update(updates)
        proven = [tag for tag in tags if _proves_consent(tag)]
        if self.consent_mode and proven:
            report.merge(self._record_opt_ins(proven))
        return report

    def _object_of(self, record_id: str, known) -> str:
        """The record's sObject: as read when it is one of ours, else from the id's key prefix."""
        given = known.get("object")
        if given in self.config["objects"]:
            return given
        return KEY_PREFIXES.get(record_id[:3], "Contact")

    def _record_opt_ins(self, tags: list[ConsentTag]) -> WriteReport:
        kinds_by_record: dict[str, dict[str, frozenset[str]]] = {}
        for tag in tags:
            kinds = opt_in_types(tag.status, _proven_channels(tag.known.get("resubscribe")))
            record_id = tag.record_id  # never None: apply_consent passes tags with a record id only
            if kinds and record_id:
                kinds_by_record.setdefault(self._object_of(record_id, tag.known), {})[record_id[:15]] = kinds
        wanted: dict[str, set[str]] = {}
        for object_type, records in kinds_by_record.items():
            for chunk in batched(sorted(records), IN_LIMIT):
                ids = ", ".join(quote(i) for i in chunk)
                for row in self._query(f"SELECT Id, IndividualId FROM {object_type} WHERE Id IN ({ids})"):
                    if row.get("IndividualId"):
                        wanted.setdefault(row["IndividualId"], set()).update(records[row["Id"][:15]])
        plan = self._consent_writer().opt_in(wanted, self._now())
        return plan.report.merge(self._update(plan.updates)).merge(self._insert(plan.creates))

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        """Set the opt-out fields of every Contact and Lead with these addresses; unknown addresses are no error.
        With consent records, also OptOut rows for the channels' contact point types (see `consent_writer`).
        `calls` counts every API request sent: the look-ups by address, the consent model's reads and writes, and
        the clean-up of new Individuals after a failed link (see `_counted`). A record whose write (and so its link
        to a new Individual) fails is reported at its position with that write's code; the Individual no record
        links to is deleted again, and gets no consent row."""
        return self._counted(lambda: self._push_unsubscribes(items))

    def _push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        report = WriteReport()
        updates: list[dict] = []
        positions: list[int] = []  # each update's position in `items`
        targets: list[Target] = []
        fields = "Id, Email, IndividualId, LastName" if self.consent_mode else "Id, Email"
        for chunk in _numbered([item for item in items if item.email], COLLECTION_SIZE):
            wanted: dict[str, tuple[int, frozenset[str]]] = {}
            for position, item in chunk:
                _, earlier = wanted.get(item.email.lower(), (position, frozenset()))
                wanted[item.email.lower()] = (position, earlier | item.channels)
            emails = ", ".join(quote(email) for email in wanted)
            found = set()
            for object_type in self.config["objects"]:
                for record in self._query(f"SELECT {fields} FROM {object_type} WHERE Email IN ({emails})"):
                    email = record["Email"].lower()
                    position, channels = wanted[email]
                    found.add(email)
                    updates.append(
                        {"attributes": {"type": object_type}, "id": record["Id"], **_opt_out_fields(channels)}
                    )
                    positions.append(position)
                    targets.append(
                        Target(
                            position,
                            object_type,
                            record["Id"],
                            email,
                            record.get("IndividualId"),
                            record.get("LastName"),
                            channels,
                        )
                    )
            report.not_found += len(set(wanted) - found)
        if not self.consent_mode or not targets:
            return report.merge(_placed(self._update(updates), positions))
        plan = self._consent_writer().opt_out(targets, self._now())
        if plan.report.failed:
            log.warning(
                "salesforce: %d records got no consent record written (%s)",
                len(plan.report.failed),
                ", ".join(sorted({code for _, code in plan.report.failed})),
            )
        for update in updates:
            if update["id"] in plan.links:
                update["IndividualId"] = plan.links[update["id"]]
        report.merge(plan.report)
        try:
            linked = self._update([*updates, *plan.updates])
        except ConnectorError:
            self._delete_unlinked(plan.created)
            raise
        creates = plan.creates
        if linked.failed:
            unlinked = _unlinked(plan, [updates[i]["id"] for i, _ in linked.failed if i < len(updates)])
            self._delete_unlinked(plan.created)
            # Their records failed (the link's code, at their positions): no consent row may name an Individual
            # that no record links to and that is deleted again, and its creation is undone, so not applied.
            report.applied -= len(unlinked)
            creates = [row for row in creates if str(row["PartyId"])[:15] not in unlinked]
        return report.merge(_placed(linked, positions)).merge(self._insert(creates))

    def _delete_unlinked(self, individuals: set[str]) -> None:
        """Delete the new Individuals that no record links to after a failed write: the retry creates its own, and
        the first would stay behind as a duplicate of the person. Best effort: Salesforce may still be down."""
        if not individuals:
            return
        try:
            linked: set[str] = set()
            for object_type in self.config["objects"]:
                for chunk in batched(sorted(individuals), IN_LIMIT):
                    ids = ", ".join(quote(i) for i in chunk)
                    rows = self._query(f"SELECT IndividualId FROM {object_type} WHERE IndividualId IN ({ids})")
                    linked.update(str(row["IndividualId"])[:15] for row in rows)
            unlinked = sorted(i for i in individuals if i[:15] not in linked)
            for chunk in batched(unlinked, COLLECTION_SIZE):
                self._api(
                    "DELETE",
                    "/composite/sobjects",
                    params={"ids": ",".join(chunk), "allOrNone": "false"},
                    kind="collections",
                )
        except ConnectorError:
            log.warning("salesforce: %d new Individuals may remain unlinked", len(individuals))

    # -- rights requests -----------------------------------------------------------------------------------------

    def erase_person(self, subject: DataSubject) -> ErasureReport:
        """Mark the linked Individuals ShouldForget (consent records on), then delete the Contacts and Leads: a
        hard delete when the integration user may, else the Recycle Bin. `deleted` also names the Individuals
        marked (kept, never deleted), so that the outbound message the marking sends is known as our own echo.
        `calls` is the transport's count of the API requests the erasure sent (look-ups, writes, polls, retries);
        the OAuth token request of a first login is no API request (Salesforce's daily limit leaves it out too)."""
        return self._counted(lambda: self._erase(subject))

    def _erase(self, subject: DataSubject) -> ErasureReport:
        report = ErasureReport()
        found = self._records_of(subject, ["Id", *(["IndividualId"] if self.consent_mode else [])])
        if not found:
            return report
        individuals = sorted({row["IndividualId"] for _, row in found if row.get("IndividualId")})
        if individuals:
            marked = self._update(
                [{"attributes": {"type": "Individual"}, "id": i, "ShouldForget": True} for i in individuals]
            )
            if marked.failed:
                code = marked.failed[0][1]
                raise ConnectorError(f"salesforce: an Individual could not be marked ({code})", code=code)
            report.forgotten = marked.applied
        records = [{"attributes": {"type": object_type}, "id": row["Id"]} for object_type, row in found]
        report.method, report.deleted, report.in_recycle_bin = self._delete(records)
        report.deleted += individuals
        return report

    def _delete(self, records: list[dict]) -> tuple[str, list[str], int]:
        """Hard delete through Bulk API 2.0 unless the user lacks the permission (remembered), else delete
        through sObject Collections into the Recycle Bin. Either way a record already gone is skipped and any
        other failed row fails the erasure (`rights`). Also: how many records a hard delete found someone had
        deleted into the Recycle Bin meanwhile."""
        if self._may_hard_delete is not False:
            try:
                bulk = self._bulk(records, "hardDelete")
            except ConnectorError as error:
                if error.code != rights.NO_HARD_DELETE:
                    raise
                self._may_hard_delete = False
                log.info("salesforce: no Bulk API Hard Delete permission; deleted records go to the Recycle Bin")
            else:
                self._may_hard_delete = True
                return "hard_delete", *rights.hard_deleted([record["id"] for record in records], bulk.failed)
        deleted: list[str] = []
        for chunk in batched([record["id"] for record in records], COLLECTION_SIZE):
            answer = self._api(
                "DELETE",
                "/composite/sobjects",
                params={"ids": ",".join(chunk), "allOrNone": "false"},
                kind="collections",
            ).json()
            if len(answer) != len(chunk):
                raise ValueError("the collection's answer does not match the ids sent")
            deleted += rights.deleted_ids(answer)
        return "recycle_bin", deleted, 0  # the method says where every record went

    def export_person(self, subject: DataSubject) -> list[ExportedRecord]:
        """Each Contact and Lead of the person with every field its object describes, then (consent records on)
        each linked Individual likewise."""
        exported = [
            ExportedRecord(self.name, object_type.lower(), row["Id"], _fields(row))
            for object_type, row in self._records_of(subject, None)
        ]
        individuals = sorted({r.fields["IndividualId"] for r in exported if r.fields.get("IndividualId")})
        if self.consent_mode and individuals:
            names = ", ".join(self._field_names("Individual"))
            for chunk in batched(individuals, IN_LIMIT):
                ids = ", ".join(quote(i) for i in chunk)
                for row in self._query(f"SELECT {names} FROM Individual WHERE Id IN ({ids})"):
                    exported.append(ExportedRecord(self.name, "individual", row["Id"], _fields(row)))
        return exported

    def _records_of(self, subject: DataSubject, fields: list[str] | None) -> list[tuple[str, dict]]:
        """(object, row) for every Contact and Lead the subject names; `fields` None reads all of them."""
        found = []
        for object_type in self.config["objects"]:
            condition = rights.subject_filter(subject, object_type, KEY_PREFIXES)
            if condition is None:
                continue
            names = ", ".join(fields or self._field_names(object_type))
            found += [(object_type, row) for row in self._query(f"SELECT {names} FROM {object_type} WHERE {condition}")]
        return found

    def _field_names(self, object_type: str) -> list[str]:
        """Every field of the object, from its describe (read once per connector)."""
        if object_type not in self._described:
            body = self._api("GET", f"/sobjects/{object_type}/describe", kind="describe").json()
            self._described[object_type] = [str(field["name"]) for field in body["fields"]]
        return self._described[object_type]

    def _update(self, updates: list[dict]) -> WriteReport:
        if not updates:
            return WriteReport()
        if len(updates) >= self.config["bulk_threshold"]:
            return self._bulk(updates, "update")
        # few type chunks a call; `failed` holds positions in `updates`, whatever order the records travel in
        order = sorted(range(len(updates)), key=lambda index: updates[index]["attributes"]["type"])
        report = self._collections("PATCH", [updates[index] for index in order])[0]
        report.failed = [(order[position], code) for position, code in report.failed]
        return report

    def _insert(self, records: list[dict]) -> WriteReport:
        if not records:
            return WriteReport()
        if len(records) >= self.config["bulk_threshold"]:
            return self._bulk(records, "insert")
        return self._collections("POST", records)[0]

    def _create(self, records: list[dict]) -> list[dict]:
        """Create through sObject Collections, for records whose new ids are needed: SaveResults in order."""
        return self._collections("POST", records)[1]

    def _collections(self, method: str, records: list[dict]) -> tuple[WriteReport, list[dict]]:
        """sObject Collections, 200 records a call (Salesforce's limit); each record succeeds or fails alone."""
        report = WriteReport()
        results: list[dict] = []
        for chunk in batched(records, COLLECTION_SIZE):
            answer = self._api(
                method, "/composite/sobjects", json={"allOrNone": False, "records": chunk}, kind="collections"
            ).json()
            if len(answer) != len(chunk):  # one SaveResult per record, in order, or the writes cannot be told apart
                raise ValueError("the collection's answer does not match the records sent")
            for position, result in enumerate(answer, start=len(results)):
                if result.get("success"):
                    report.applied += 1
                else:
                    code = (result.get("errors") or [{}])[0].get("statusCode", "ERROR")
                    report.failed.append((position, str(code)))
            results.extend(answer)
        return report, results

    def _bulk(self, records: list[dict], operation: str) -> WriteReport:
        """One Bulk API 2.0 job per object (`update` or `hardDelete` by Id, or `insert`): upload, close, poll,
        read the failed rows. `failed` holds each failed row's position in `records` (found by its Id; -1 for an
        insert) and its error code."""
        report = WriteReport()
        by_object: dict[str, list[dict]] = {}
        positions = {str(record.get("id", ""))[:15]: position for position, record in enumerate(records)}
        for record in records:
            by_object.setdefault(record["attributes"]["type"], []).append(record)
        for object_type, rows in by_object.items():
            names = sorted({k for row in rows for k in row if k not in ("attributes", "id")})
            by_id = operation != "insert"
            columns = ["Id", *names] if by_id else names
            data = io.StringIO()
            writer = csv.writer(data, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                values = [_csv_value(row.get(c)) for c in names]
                writer.writerow([row["id"], *values] if by_id else values)
            job = self._api(
                "POST",
                "/jobs/ingest",
                json={"object": object_type, "operation": operation, "contentType": "CSV", "lineEnding": "LF"},
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
            failed = int(state["numberRecordsFailed"])
            report.applied += int(state["numberRecordsProcessed"]) - failed
            if failed:
                report.failed += self._failed_rows(job["id"], failed, positions if by_id else {})
        return report

    def _failed_rows(self, job_id: str, count: int, positions: dict[str, int]) -> list[tuple[int, str]]:
        """A finished job's failed rows as (position, code): the code opens `sf__Error` ("CODE:message:fields"),
        the row's `Id` column gives the position. Rows the job counted and the results left out stay failures."""
        text = self._api("GET", f"/jobs/ingest/{job_id}/failedResults", kind="bulk failed results").text
        rows = []
        for row in csv.DictReader(io.StringIO(text)):
            code = (row.get("sf__Error") or "").split(":", 1)[0].strip() or "BULK_RECORD_FAILED"
            record_id = row.get("Id") or row.get("sf__Id") or ""
            rows.append((positions.get(record_id[:15], -1) if record_id else -1, code))
        rows += [(-1, "BULK_RECORD_FAILED")] * max(0, count - len(rows))
        return rows

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
        if len(notifications) > outbound.MAX_NOTIFICATIONS:
            raise ValueError("more than 100 notifications in one message")
        events = []
        for notification_id, object_type, fields in notifications:
            moment = _time(fields.get("SystemModstamp")) or datetime.now(UTC)
            if object_type == "Individual":
                events += _forgotten(notification_id, fields, moment, self.name)
                continue
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
                        shared_with=frozenset(c for c, written in OPT_OUT_FIELD.items() if written == field),
                    )
                )
        return events

    def find_identities(self, events: Sequence[InboundEvent]) -> Sequence[InboundEvent]:
        """An Individual's outbound message carries no address: the Contacts and Leads linked to it give one (the
        first by Id), so that the person can be found. A failed look-up raises: Salesforce then delivers again."""
        wanted = sorted({e.record_id for e in events if e.erasure and e.record_id and not (e.email or e.phone)})
        if not wanted:
            return events
        found: dict[str, tuple[str | None, str | None]] = {}
        for object_type in self.config["objects"]:
            for chunk in batched(wanted, IN_LIMIT):
                ids = ", ".join(quote(i) for i in chunk)
                query = (
                    f"SELECT Id, Email, Phone, MobilePhone, IndividualId FROM {object_type} "
                    f"WHERE IndividualId IN ({ids}) ORDER BY Id"
                )
                for row in self._query(query):
                    found.setdefault(str(row["IndividualId"])[:15], (row["Email"], row["MobilePhone"] or row["Phone"]))
        identified = []
        for event in events:
            anonymous = event.erasure and not (event.email or event.phone)
            email, phone = found.get((event.record_id or "")[:15], (None, None)) if anonymous else (None, None)
            identified.append(replace(event, email=email, phone=phone) if email or phone else event)
        return identified

    def webhook_answer(self, events: Sequence[InboundEvent]) -> WebhookAnswer:
        return WebhookAnswer(200, outbound.ACK, "text/xml; charset=utf-8")


def _forgotten(notification_id: str, fields: dict[str, str], moment: datetime, system: str) -> list[InboundEvent]:
    """An Individual marked "Forget this Individual": an erasure of the person, named by the Individual's id only
    (an outbound message carries its own object's fields, and an Individual has no address)."""
    if fields.get("ShouldForget", "").lower() != "true":
        return []
    if not isinstance(fields.get("Id"), str) or not fields["Id"]:
        raise ValueError("an Individual notification without its Id")
    return [
        InboundEvent(
            event_key=f"salesforce:{notification_id}:ShouldForget",
            kind=EventKind.OBJECTED,
            channel=ALL_CHANNELS,
            occurred_at=moment,
            system=system,
            record_id=fields["Id"],
            vendor_type="Individual.ShouldForget",
            erasure=True,
        )
    ]


def _unlinked(plan: ConsentWritePlan, failed_records: list[str]) -> set[str]:
    """The new Individuals (15-character ids) no record is linked to once these records' writes failed."""
    failed = {record_id[:15] for record_id in failed_records}
    linked = {individual[:15] for record_id, individual in plan.links.items() if record_id[:15] not in failed}
    return {individual[:15] for individual in plan.created} - linked


def _placed(report: WriteReport, positions: list[int]) -> WriteReport:
    """`report` of a write whose first records are the input's at `positions`: failures at input positions, those
    of the records after them (consent rows, Individuals: several inputs' or none) at -1."""
    report.failed = [(positions[i] if 0 <= i < len(positions) else -1, code) for i, code in report.failed]
    return report


def _fields(row: dict) -> dict:
    return {name: value for name, value in row.items() if name != "attributes"}


def _opt_out_fields(channels: frozenset[str]) -> dict[str, bool]:
    if "all" in channels:
        return {field: True for field in set(OPT_OUT_FIELD.values())}
    return {OPT_OUT_FIELD[channel]: True for channel in channels if channel in OPT_OUT_FIELD}


def _numbered(items: list, size: int) -> Iterator[list[tuple[int, Any]]]:
    """Chunks of (position in `items`, item)."""
    for start in range(0, len(items), size):
        yield list(enumerate(items[start : start + size], start))


def _proves_consent(tag: ConsentTag) -> bool:
    """The sync's word that the ledger holds a newer, explicit, provable consent: an OptIn records the person's own
    consent, so other legal bases (legitimate interest, soft opt-in, contract) never write one."""
    return bool(tag.known.get("resubscribe")) and tag.legal_basis == "consent"


def _proven_channels(resubscribe) -> frozenset[str] | None:
    """The channels the proof covers when the sync names them (a channel or a list), None for all of them."""
    if isinstance(resubscribe, str):
        return frozenset({resubscribe})
    if isinstance(resubscribe, (list, tuple, set, frozenset)):
        return frozenset(resubscribe)
    return None


def _csv_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _time(text: str | None) -> datetime | None:
    return parse_time(text)
