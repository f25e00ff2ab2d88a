"""Mailchimp Marketing API 3.0: audience members, consent tags, marketing permissions, unsubscribes, rights requests
(`rights`) and webhooks. Mailchimp sends no webhook when a user permanently deletes a contact, so no event it
delivers is ever an erasure.

What `apply_consent` reads in `ConsentTag.known` (the sync passes the member as read, plus its own records):
- `status`: the member's status as read; without one the member is skipped (never created just to be tagged).
- `previous`: channel -> verdict that Consentry last wrote for this member (missing or empty: never written).
  Tags of verdicts that changed are removed. `tags` (names as read) is a second, optional source of stale tags.
- `marketing_permissions`: the member's GDPR fields as read; without them permissions are left untouched.
- `resubscribe` (bool) with `ConsentTag.legal_basis == "consent"`: the ledger proves a newer explicit consent, the
  only case where a permission is enabled.
"""

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qs

import marshmallow
import requests

from consentry.connectors.base import (
    OPT_OUTS,
    RIGHTS_REQUESTS,
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
from consentry.connectors.base import Connector as _Connector
from consentry.sdk.consent_state import EventKind
from consentry.sdk.countries import jurisdiction_of_country
from consentry.sdk.errors import ConfigurationError, ConnectorError, WebhookPayloadError
from consentry.sdk.http import ConcurrencyLimiter, Credentials, ResponsePolicy, Transport, Verdict
from consentry.sdk.webhooks import WebhookRequest

from .batches import run_batch
from .consent_tags import stale_tag_names, tag_names
from .permissions import DEFAULT_MAPPING, PermissionMap, PermissionMapping, permission_changes
from .rights import erase_members, export_members
from .tag_segments import TagSegments
from .webhooks import MailchimpWebhookVerifier

PAGE_SIZE = 1000  # Mailchimp's maximum `count`
BATCH_SIZE = 500  # members per batch-subscribe call
DIRECT_WRITES = 3  # up to this many member updates go one by one; more go in one batch (submit + polls >= 2 calls)
OPTED_OUT = frozenset({"unsubscribed", "cleaned"})
MEMBER_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
MEMBER_ID = re.compile(r"[0-9a-f]{32}")  # a subscriber hash: the only record id a sync keeps for a member


class MailchimpConfig(ConnectorConfig):
    api_key = secret_field(required=True)
    list_id = marshmallow.fields.String(required=True)
    webhook_signing_secret = secret_field(load_default=None)
    webhook_url_token = secret_field(load_default=None)
    max_connections = marshmallow.fields.Integer(load_default=10, validate=marshmallow.validate.Range(1, 10))
    page_size = marshmallow.fields.Integer(load_default=PAGE_SIZE, validate=marshmallow.validate.Range(1, PAGE_SIZE))
    # GDPR fields: permission text (or id) -> channel; None or "ignore" leaves a permission alone; {} turns it off
    marketing_permissions = PermissionMapping(load_default=lambda: dict(DEFAULT_MAPPING))


class MailchimpKey(Credentials):
    def __init__(self, api_key: str):
        self._header = {"Authorization": f"Bearer {api_key}"}

    def headers(self) -> dict[str, str]:
        return self._header


class MailchimpPolicy(ResponsePolicy):
    def classify(self, response: requests.Response) -> Verdict:
        if response.status_code == 403 and not response.content:
            # "At exceptionally high volumes, you may receive an HTTP 429 or 403 without a JSON body."
            return Verdict("retry", code="RATE_LIMITED", message="throttled")
        verdict = super().classify(response)
        if verdict.action == "refresh":
            return Verdict("fail", code="API_KEY_INVALID", message="the API key was refused")
        if verdict.action == "fail":
            title = _problem_title(response)
            return Verdict(
                "fail",
                code=title.upper().replace(" ", "_") if title else verdict.code,
                message=f"{title or 'request refused'} ({response.status_code})",
            )
        return verdict


def _problem_title(response: requests.Response) -> str:
    try:
        return str(response.json().get("title", ""))
    except ValueError:
        return ""


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def data_center(api_key: str) -> str:
    prefix, separator, center = api_key.rpartition("-")
    if not separator or not prefix or not center.isalnum():
        raise ConfigurationError("mailchimp: the API key must end with its data centre, like -us6")
    return center


class MailchimpConnector(_Connector):
    name = "mailchimp"
    capabilities = OPT_OUTS | RIGHTS_REQUESTS
    sandbox = "consentry.connectors.mailchimp.sandbox"
    config_schema = MailchimpConfig
    kept_attributes = ("marketing_permissions",)  # their ids differ per audience: read, kept, sent back

    def __init__(self, config, **options):
        super().__init__(config, **options)
        root = self.config["base_url"] or f"https://{data_center(self.config['api_key'])}.api.mailchimp.com"
        self.transport = Transport(
            f"{root.rstrip('/')}/3.0",
            policy=MailchimpPolicy(),
            credentials=MailchimpKey(self.config["api_key"]),
            limiter=ConcurrencyLimiter(self.config["max_connections"]),
            sleep=self.sleep,
            vendor="mailchimp",
        )
        self.list_path = f"/lists/{self.config['list_id']}"
        self.permissions = PermissionMap(self.config["marketing_permissions"])
        self.tag_segments = TagSegments(self.transport, self.list_path)

    # -- contacts ------------------------------------------------------------------------------------------------

    def fetch_contacts(self, since: datetime | None = None) -> Iterator[RemoteContact]:
        """Members changed since `since`, oldest change first, a page of up to 1,000 at a time."""
        params = {"count": self.config["page_size"], "sort_field": "last_changed", "sort_dir": "ASC"}
        if since is not None:
            params["since_last_changed"] = since.astimezone(UTC).isoformat()
        offset, pages = 0, 0
        while True:
            page = self.transport.request(
                "GET", f"{self.list_path}/members", params={**params, "offset": offset}, kind="list members"
            ).json()
            members = page.get("members", [])
            yield from (self._contact(member) for member in members)
            offset += len(members)
            pages += 1
            total = int(page.get("total_items", 0))
            if not members or offset >= total or pages > total // max(len(members), 1) + 1:
                return

    def _contact(self, member: dict) -> RemoteContact:
        status = member.get("status", "")
        return RemoteContact(
            system=self.name,
            record_id=member.get("id") or subscriber_hash(member["email_address"]),
            email=member.get("email_address"),
            phone=member.get("sms_phone_number") or None,
            opted_out=frozenset({"email"}) if status in OPTED_OUT else frozenset(),
            subscribed=frozenset({"email"}) if status == "subscribed" else frozenset(),
            updated_at=_parse_time(member.get("last_changed")),
            attributes={
                "status": status,
                "jurisdiction": jurisdiction_of_country(_declared_country(member)),
                "tags": [tag.get("name") for tag in member.get("tags", [])],
                "marketing_permissions": [
                    {key: item.get(key) for key in ("marketing_permission_id", "text", "enabled")}
                    for item in member.get("marketing_permissions") or []
                ],
            },
        )

    # -- writes --------------------------------------------------------------------------------------------------

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        """Tag members with Consentry's verdicts, 500 a call, keeping each member's status as it is; then take off
        the tags of verdicts that changed, and set the marketing permissions the verdicts call for.

        The status sent is the one the member already has, so a sync never subscribes anyone; and Mailchimp
        itself refuses to turn an unsubscribed or cleaned member back into a subscribed one. Batch subscribe can
        add tags but not remove them, and its documented member fields have no `marketing_permissions`: removals
        go through the tags' static segments (500 members a call, per tag), permissions through member updates.
        A first sync (no `previous`, no stale tag read) and an unchanged one cost nothing beyond batch subscribe.
        `calls` counts every API request sent, retries and batch polls included (see `_counted`).
        """
        return self._counted(lambda: self._apply_consent(tags))

    def _apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        report = WriteReport()
        plans = []  # checked before the first write: bad input changes nothing
        for position, tag in enumerate(tags):
            if tag.email and tag.known.get("status") in MEMBER_STATUSES:
                plans.append((position, tag, stale_tag_names(tag), permission_changes(tag, self.permissions)))
            else:
                report.not_found += 1  # never create a member just to tag it
        stale: dict[str, list[tuple[int, str]]] = {}  # tag name -> (position, email)
        permission_writes: list[tuple[int, str, list[dict]]] = []  # (position, email, marketing_permissions)
        for chunk in batched(plans, BATCH_SIZE):
            members = [
                {"email_address": tag.email, "status": tag.known["status"], "tags": tag_names(tag)}
                for _, tag, _, _ in chunk
            ]
            written, erased = self._batch_subscribe(members, [position for position, *_ in chunk])
            report.merge(written)
            for position, tag, names, changes in chunk:
                if tag.email.lower() in erased:
                    continue  # permanently deleted since the sync read it: nothing left to untag or update
                for name in names:
                    stale.setdefault(name, []).append((position, tag.email))
                if changes:
                    permission_writes.append((position, tag.email, changes))
        self.tag_segments.start()
        if stale:
            report.merge(self._remove_tags(stale))
        if permission_writes:
            report.merge(self._write_permissions(permission_writes))
        return report

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        """Set `unsubscribed`, 500 a call; an unknown address is added as unsubscribed, so it stays suppressed. A
        permanently deleted one cannot be added again: Mailchimp refuses it, and it counts as not found. `calls`
        counts every API request sent, retries included (see `_counted`)."""
        return self._counted(lambda: self._push_unsubscribes(items))

    def _push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        report = WriteReport()
        for chunk in batched((item for item in items if item.email and "email" in _channels(item)), BATCH_SIZE):
            members = [{"email_address": item.email, "status": "unsubscribed"} for item in chunk]
            report.merge(self._batch_subscribe(members)[0])
        return report

    def _batch_subscribe(self, members: list[dict], positions: list[int] | None = None) -> tuple[WriteReport, set[str]]:
        """The report, and the addresses (lower-cased) Mailchimp refused as permanently deleted."""
        answer = self.transport.request(
            "POST", self.list_path, json={"members": members, "update_existing": True}, kind="batch subscribe"
        ).json()
        positions = positions or list(range(len(members)))
        position = {member["email_address"].lower(): positions[index] for index, member in enumerate(members)}
        report, erased = WriteReport(), set()
        # Read strictly: an answer without these counts is not Mailchimp's, and the write cannot be taken as done.
        report.applied = int(answer["total_created"]) + int(answer["total_updated"])
        for error in answer["errors"]:
            index = position.get(str(error.get("email_address", "")).lower(), -1)
            message = str(error.get("error", ""))
            if "compliance state" in message.lower():
                report.unchanged += 1  # already unsubscribed or cleaned: the state we want is there
            elif "permanently deleted" in message.lower():
                report.not_found += 1  # erased ("Forgotten Email Not Subscribed"): final, never retried
                erased.add(str(error.get("email_address", "")).lower())
            else:
                report.failed.append((index, str(error.get("error_code") or "ERROR_GENERIC")))
        return report, erased

    def _remove_tags(self, stale: dict[str, list[tuple[int, str]]]) -> WriteReport:
        """Take each stale tag off its members through the tag's static segment, 500 members a call."""
        report = WriteReport()
        for name, members in sorted(stale.items()):
            refused = self.tag_segments.remove(name, [email for _, email in members])
            report.failed.extend(
                (position, "TAG_NOT_REMOVED") for position, email in members if email.lower() in refused
            )
        return report

    def _write_permissions(self, writes: list[tuple[int, str, list[dict]]]) -> WriteReport:
        """PATCH each member's `marketing_permissions`: one by one when few, else all in one batch operation."""
        report = WriteReport()
        if len(writes) <= DIRECT_WRITES:
            for position, email, changes in writes:
                try:
                    self.transport.request(
                        "PATCH",
                        f"{self.list_path}/members/{subscriber_hash(email)}",
                        json={"marketing_permissions": changes},
                        kind="update member",
                    )
                except ConnectorError as error:
                    if error.retryable:
                        raise
                    report.failed.append((position, error.code or "PERMISSIONS_NOT_SET"))
        else:
            operations = [
                {
                    "method": "PATCH",
                    "path": f"{self.list_path}/members/{subscriber_hash(email)}",
                    "operation_id": str(position),
                    "body": json.dumps({"marketing_permissions": changes}),
                }
                for position, email, changes in writes
            ]
            outcome = run_batch(self.transport, operations, sleep=self.sleep)
            if not outcome.finished:
                report.failed.extend((position, "BATCH_UNFINISHED") for position, _, _ in writes)
            else:
                report.failed.extend((_position(operation), code) for operation, code in outcome.failures)
                report.failed.extend((-1, "BATCH_OPERATION_FAILED") for _ in range(outcome.unread))
        return report

    # -- rights requests -----------------------------------------------------------------------------------------

    def erase_person(self, subject: DataSubject) -> ErasureReport:
        """Permanently delete the person's member from the audience: see `rights`. `calls` counts every API
        request sent, retries included (see `_counted`)."""
        return self._counted(lambda: erase_members(self.transport, self.list_path, _member_ids(subject)))

    def export_person(self, subject: DataSubject) -> list[ExportedRecord]:
        """The person's member with all its fields (merge fields, status, tags, permissions, location, times)."""
        return export_members(self.transport, self.list_path, _member_ids(subject), self.name)

    # -- webhooks ------------------------------------------------------------------------------------------------

    def webhook_verifier(self) -> MailchimpWebhookVerifier:
        return MailchimpWebhookVerifier(
            signing_secret=self.config["webhook_signing_secret"],
            url_token=self.config["webhook_url_token"],
            clock=self.clock,
        )

    def webhook_validation(self, request: WebhookRequest) -> WebhookAnswer | None:
        """Mailchimp checks a webhook URL with a plain GET before it accepts it."""
        return WebhookAnswer(200, "") if request.method == "GET" else None

    def parse_webhook(self, request: WebhookRequest) -> Sequence[InboundEvent]:
        """Every delivery names its audience in `data[list_id]`. One for another audience (another list's webhook
        pointed here) or naming none is refused whole with a 400: nothing stored, the refusal counted in /metrics,
        and Mailchimp's retries of it end within 75 minutes."""
        form = {key: values[-1] for key, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        if form.get("data[list_id]") != self.config["list_id"]:
            raise WebhookPayloadError("mailchimp: the delivery is not for the configured audience (list_id)")
        kind = _KINDS.get(form.get("type", ""))
        if kind is None:
            return []
        if form.get("type") == "cleaned" and form.get("data[reason]") == "abuse":
            kind = EventKind.OBJECTED
        email = form.get("data[email]") or None
        list_id = form["data[list_id]"]
        fired_at = form["fired_at"]
        record = form.get("data[id]") or (subscriber_hash(email) if email else "")
        return [
            InboundEvent(
                event_key=f"mailchimp:{list_id}:{form['type']}:{record}:{fired_at}",
                kind=kind,
                channel="email",
                occurred_at=datetime.strptime(fired_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC),
                system=self.name,
                email=email,
                record_id=record or None,
                vendor_type=form["type"],
            )
        ]


_KINDS = {"unsubscribe": EventKind.WITHDRAWN, "cleaned": EventKind.WITHDRAWN, "subscribe": EventKind.GRANTED}


def _member_ids(subject: DataSubject) -> list[str]:
    """The subscriber hashes naming the person: their address's, then the synced record ids (other ids skipped)."""
    ids = [subscriber_hash(subject.email)] if subject.email else []
    ids += [record_id.lower() for record_id in subject.record_ids if MEMBER_ID.fullmatch(record_id.lower())]
    return list(dict.fromkeys(ids))


def _position(operation_id: str) -> int:
    return int(operation_id) if operation_id.isdigit() else -1


def _channels(item: Unsubscribe) -> frozenset[str]:
    return frozenset({"email"}) if "all" in item.channels else item.channels


def _declared_country(member: dict) -> str | None:
    """The country of the audience's ADDRESS merge field, as the person gave it. Not `location`: Mailchimp guesses
    that one from IP addresses, and a wrong guess could apply looser rules than the person's own country's."""
    address = (member.get("merge_fields") or {}).get("ADDRESS")
    return address.get("country") if isinstance(address, dict) else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
