"""Mailchimp Marketing API 3.0: audience members, consent tags, unsubscribes, and audience webhooks."""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qs

import marshmallow
import requests

from connectors.base import (
    Capability,
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
from connectors.base import Connector as _Connector
from sdk.consent_state import EventKind
from sdk.errors import ConfigurationError
from sdk.http import ConcurrencyLimiter, Credentials, ResponsePolicy, Transport, Verdict
from sdk.webhooks import WebhookRequest

from .webhooks import MailchimpWebhookVerifier

PAGE_SIZE = 1000  # Mailchimp's maximum `count`
BATCH_SIZE = 500  # members per batch-subscribe call
OPTED_OUT = frozenset({"unsubscribed", "cleaned"})
MEMBER_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
TAG_PREFIX = "consentry"


class MailchimpConfig(ConnectorConfig):
    api_key = secret_field(required=True)
    list_id = marshmallow.fields.String(required=True)
    webhook_signing_secret = secret_field(load_default=None)
    webhook_url_token = secret_field(load_default=None)
    max_connections = marshmallow.fields.Integer(load_default=10, validate=marshmallow.validate.Range(1, 10))
    page_size = marshmallow.fields.Integer(load_default=PAGE_SIZE, validate=marshmallow.validate.Range(1, PAGE_SIZE))


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
    capabilities = frozenset(Capability)
    config_schema = MailchimpConfig

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
            attributes={"status": status, "tags": [tag.get("name") for tag in member.get("tags", [])]},
        )

    # -- writes --------------------------------------------------------------------------------------------------

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        """Tag members with Consentry's verdicts, 500 a call, keeping each member's status as it is.

        The status sent is the one the member already has, so a sync never subscribes anyone; and Mailchimp
        itself refuses to turn an unsubscribed or cleaned member back into a subscribed one.
        """
        report = WriteReport()
        known = []
        for tag in tags:
            if tag.email and tag.known.get("status") in MEMBER_STATUSES:
                known.append(tag)
            else:
                report.not_found += 1  # never create a member just to tag it
        for chunk in batched(known, BATCH_SIZE):
            members = [
                {"email_address": tag.email, "status": tag.known["status"], "tags": _tag_names(tag)} for tag in chunk
            ]
            report.merge(self._batch_subscribe(members))
        return report

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        """Set `unsubscribed`, 500 a call; an unknown address is added as unsubscribed, so it stays suppressed."""
        report = WriteReport()
        for chunk in batched((item for item in items if item.email and "email" in _channels(item)), BATCH_SIZE):
            members = [{"email_address": item.email, "status": "unsubscribed"} for item in chunk]
            report.merge(self._batch_subscribe(members))
        return report

    def _batch_subscribe(self, members: list[dict]) -> WriteReport:
        answer = self.transport.request(
            "POST", self.list_path, json={"members": members, "update_existing": True}, kind="batch subscribe"
        ).json()
        position = {member["email_address"].lower(): index for index, member in enumerate(members)}
        report = WriteReport(calls=1)
        report.applied = int(answer.get("total_created", 0)) + int(answer.get("total_updated", 0))
        for error in answer.get("errors", []):
            index = position.get(str(error.get("email_address", "")).lower(), -1)
            message = str(error.get("error", ""))
            if "compliance state" in message.lower():
                report.unchanged += 1  # already unsubscribed or cleaned: the state we want is there
            else:
                report.failed.append((index, str(error.get("error_code") or "ERROR_GENERIC")))
        return report

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
        form = {key: values[-1] for key, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        kind = _KINDS.get(form.get("type", ""))
        if kind is None:
            return []
        if form.get("type") == "cleaned" and form.get("data[reason]") == "abuse":
            kind = EventKind.OBJECTED
        email = form.get("data[email]") or None
        list_id = form.get("data[list_id]", "")
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


def _known_status(tag: ConsentTag) -> str:
    status = tag.known.get("status") if tag.known else None
    return (
        status if status in {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"} else "transactional"
    )


def _tag_names(tag: ConsentTag) -> list[str]:
    return [f"{TAG_PREFIX}:{channel}:{verdict}" for channel, verdict in sorted(tag.status.items())]


def _channels(item: Unsubscribe) -> frozenset[str]:
    return frozenset({"email"}) if "all" in item.channels else item.channels


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
