"""The base every connector builds on: declared capabilities, a config schema, and a few small hooks.

A connector subclass declares `name`, `capabilities` and `config_schema`, and overrides the hooks for what it
declares: read contacts page by page, write consent tags, push unsubscribes, verify and parse webhooks. The
transport (retries, limits, token refresh), batching and errors come from here and from `sdk.http`.
Every write is an idempotent state assignment ("email opt-out = true"), never a toggle, so any retry is safe.
"""

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from typing import Any, ClassVar, TypeVar

import marshmallow

from consentry.sdk.consent_state import LEDGER_CHANNELS, EventKind
from consentry.sdk.errors import ConfigurationError, WebhookPayloadError
from consentry.sdk.http import Transport, vendor_failures
from consentry.sdk.json_input import check_nesting
from consentry.sdk.rules import JURISDICTIONS
from consentry.sdk.vocabulary import Audience
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier


class Capability(StrEnum):
    SYNC_CONTACTS = "sync_contacts"
    TAG_CONSENT = "tag_consent"
    PUSH_UNSUBSCRIBE = "push_unsubscribe"
    RECEIVE_WEBHOOKS = "receive_webhooks"
    ERASE_PEOPLE = "erase_people"  # GDPR Art. 17: delete every record of a person in the vendor, for good
    EXPORT_PEOPLE = "export_people"  # GDPR Art. 15: every record of a person, its fields as the vendor gives them


# What a CRM connector does for opt-outs, and what it does for rights requests: a connector declares the sets it
# implements in full, or the capabilities one by one (never `frozenset(Capability)`, which would claim every
# capability added later without the code behind it).
OPT_OUTS = frozenset(
    {Capability.SYNC_CONTACTS, Capability.TAG_CONSENT, Capability.PUSH_UNSUBSCRIBE, Capability.RECEIVE_WEBHOOKS}
)
RIGHTS_REQUESTS = frozenset({Capability.ERASE_PEOPLE, Capability.EXPORT_PEOPLE})


@dataclass(frozen=True)
class RemoteContact:
    """A contact as one system holds it, reduced to what consent decisions need."""

    system: str
    record_id: str
    email: str | None = None
    phone: str | None = None
    opted_out: frozenset[str] = frozenset()  # channels this system says the person opted out of
    subscribed: frozenset[str] = frozenset()  # channels this system says the person subscribed to
    updated_at: datetime | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)  # jurisdiction, audience, names ...


@dataclass(frozen=True)
class ConsentTag:
    """Consentry's verdict per channel for one person, written back into a CRM (a state, not a toggle)."""

    email: str | None
    status: Mapping[str, str]  # channel -> "allowed" | "allowed_with_conditions" | "forbidden"
    legal_basis: str | None = None
    phone: str | None = None
    record_id: str | None = None
    known: Mapping[str, Any] = field(default_factory=dict)  # the system's own state, as read (e.g. status)


@dataclass(frozen=True)
class Unsubscribe:
    """Make this person unsubscribed for these channels in the target system."""

    email: str | None
    channels: frozenset[str] = frozenset({"email"})
    phone: str | None = None
    record_id: str | None = None


@dataclass
class WriteReport:
    """What a batch write did; `failed` holds (position in the input, error code), never an identifier."""

    applied: int = 0
    unchanged: int = 0
    not_found: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    calls: int = 0

    def merge(self, other: "WriteReport") -> "WriteReport":
        self.applied += other.applied
        self.unchanged += other.unchanged
        self.not_found += other.not_found
        self.failed.extend(other.failed)
        self.calls += other.calls
        return self


@dataclass(frozen=True)
class InboundEvent:
    """A consent change reported by a vendor webhook, in Consentry's terms."""

    event_key: str
    kind: EventKind
    channel: str
    occurred_at: datetime
    system: str
    email: str | None = None
    phone: str | None = None
    record_id: str | None = None
    origin: str = "unknown"  # who made the change in the vendor: user, admin, api, integration ...
    vendor_type: str = ""
    # The vendor deleted this person under a privacy law (HubSpot's `contact.privacyDeletion`, a Salesforce
    # Individual marked to be forgotten): not a consent change but the start of an erasure everywhere else, unless it
    # is the echo of Consentry's own erasure (recognised by `record_id`). `kind` is then OBJECTED, `channel` "all".
    erasure: bool = False
    # Other channels this system keeps in the same field (Salesforce's DoNotCall holds calls and SMS): Consentry's
    # own push of any of them comes back as this event, and is recognised as its echo.
    shared_with: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DataSubject:
    """The person a rights request names, as one system may know them: by address, number, or the ids of the
    records Consentry synced from that system (a record whose address was changed in the vendor is still found)."""

    email: str | None = None
    phone: str | None = None
    record_ids: tuple[str, ...] = ()


@dataclass
class ErasureReport:
    """What erasing one person did in one system. `method` says how the records went, in the vendor's terms:
    `gdpr_delete` (HubSpot), `permanent_delete` (Mailchimp), `hard_delete` or `recycle_bin` (Salesforce; the API's
    delete keeps records 15 days in the Recycle Bin unless the integration user may hard-delete), `nothing_found`.
    `deleted` holds the record ids deleted (the echo of a deletion names them), never an address."""

    method: str = "nothing_found"
    deleted: list[str] = field(default_factory=list)
    forgotten: int = 0  # consent-model records marked "forget this individual" (Salesforce Individuals)
    # Records someone else deleted meanwhile into the vendor's recycle bin, where they wait for the vendor's own
    # purge (15 days in Salesforce): gone from the system's views, not yet from its storage.
    in_recycle_bin: int = 0
    calls: int = 0


@dataclass(frozen=True)
class ExportedRecord:
    """One record a system holds about a person, for an access request: its fields exactly as the vendor returns
    them (never logged)."""

    system: str
    kind: str  # the vendor's object: contact, lead, member, individual ...
    record_id: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class WebhookAnswer:
    status: int = 200
    body: str = ""
    content_type: str = "text/plain"


WEB = frozenset({"http", "https"})
AT_LEAST_ONE = marshmallow.validate.Range(min=1)


class ConnectorConfig(marshmallow.Schema):
    """Our own inputs reject unknown fields; subclasses add theirs, secrets marked `load_only` and `secret`."""

    class Meta:
        unknown = marshmallow.RAISE

    base_url = marshmallow.fields.Url(require_tld=False, schemes=WEB, load_default=None)
    advertiser = marshmallow.fields.String(load_default="default")
    # Who this system's contacts are and which law applies, when a record does not say: a sales CRM's leads are
    # named professionals, a newsletter audience consumers. The default is the strictest common case.
    audience = marshmallow.fields.String(
        load_default=Audience.CONSUMER.value, validate=marshmallow.validate.OneOf([a.value for a in Audience])
    )
    jurisdiction = marshmallow.fields.String(
        load_default="FR", validate=marshmallow.validate.OneOf(sorted(JURISDICTIONS))
    )


def secret_field(**options) -> marshmallow.fields.String:
    """A secret: never dumped, and marked so tooling can redact it."""
    return marshmallow.fields.String(load_only=True, metadata={"secret": True}, **options)


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


Report = TypeVar("Report", WriteReport, ErasureReport)


class Connector:
    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    config_schema: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    # Attributes of a read record that writing its consent needs again (state the vendor keeps per record, such as
    # Mailchimp's marketing permissions): the sync stores them and hands them back in `ConsentTag.known`.
    kept_attributes: ClassVar[tuple[str, ...]] = ()
    # The package of this connector's emulator on 127.0.0.1 (`consentry.connectors.<vendor>.sandbox`), or None:
    # only a name, so that production code never imports it. The registry, the stack and the demo find it here.
    sandbox: ClassVar[str | None] = None
    # Codes of a record's refusal (`WriteReport.failed`) that a later attempt may clear, such as a row another
    # process holds locked: its propagation job is retried with backoff instead of ending dead.
    transient_codes: ClassVar[frozenset[str]] = frozenset()
    # Built by each connector's __init__ (the vendor's base URL, credentials, limits): the sync reads its call counts.
    transport: Transport

    def __init_subclass__(cls, **kwargs):
        """The hooks that call the vendor fail with a ConnectorError only, however a connector reads the answers:
        the worker then records a failed job (and retries it) instead of crashing on a KeyError."""
        super().__init_subclass__(**kwargs)
        for name in ("apply_consent", "push_unsubscribes", "find_identities", "erase_person", "export_person"):
            if name in cls.__dict__:
                setattr(cls, name, _failing_as_connector_errors(cls.__dict__[name]))
        if "fetch_contacts" in cls.__dict__:
            cls.fetch_contacts = _streaming_as_connector_errors(cls.__dict__["fetch_contacts"])

    def __init__(self, config: Mapping[str, Any], *, sleep=time.sleep, clock=time.time):
        try:
            self.config = self.config_schema().load(dict(config))
        except marshmallow.ValidationError as error:
            fields = ", ".join(sorted(error.messages)) if isinstance(error.messages, dict) else "config"
            raise ConfigurationError(f"{self.name}: invalid configuration ({fields})") from None
        self.sleep, self.clock = sleep, clock

    @classmethod
    def secret_fields(cls) -> list[str]:
        return [name for name, item in cls.config_schema().fields.items() if item.metadata.get("secret")]

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _counted(self, write: Callable[[], Report]) -> Report:
        """`write`'s report with `calls` set to the API requests it sent, as the transport counted them: look-ups,
        query pages, writes, polls and retries, whatever the steps report themselves. A connector keeps one counter
        (a second transport shares the first's `calls`), counting only this thread's requests. An OAuth token request
        goes outside the transport and is no API request: vendors' daily limits, which the figure is compared with,
        leave it out too."""
        before = self.transport.calls.this_thread
        report = write()
        report.calls = self.transport.calls.this_thread - before
        return report

    # -- hooks ---------------------------------------------------------------------------------------------------

    def fetch_contacts(self, since: datetime | None = None) -> Iterator[RemoteContact]:
        """Every contact changed since `since` (all when None), page by page, in constant memory."""
        raise NotImplementedError

    def apply_consent(self, tags: Iterable[ConsentTag]) -> WriteReport:
        raise NotImplementedError

    def push_unsubscribes(self, items: Iterable[Unsubscribe]) -> WriteReport:
        raise NotImplementedError

    def erase_person(self, subject: DataSubject) -> ErasureReport:
        """Delete every record of `subject` in the vendor, in the vendor's strongest way that this integration is
        allowed (see ErasureReport.method). Idempotent: a person already gone is `nothing_found`, not an error."""
        raise NotImplementedError

    def export_person(self, subject: DataSubject) -> list[ExportedRecord]:
        """Every record of `subject` in the vendor with all its fields, for an access request; [] when none."""
        raise NotImplementedError

    def webhook_verifier(self) -> WebhookVerifier:
        raise NotImplementedError

    def parse_webhook(self, request: WebhookRequest) -> Sequence[InboundEvent]:
        """The events of a verified request. Raise KeyError, ValueError or TypeError on a payload of the wrong
        shape: the vendor then gets a 400, never a 500. A body nested deeper than `json_input.MAX_DEPTH` is refused
        before this is called; a parser's RecursionError is a payload of the wrong shape too."""
        raise NotImplementedError

    def find_identities(self, events: Sequence[InboundEvent]) -> Sequence[InboundEvent]:
        """The same events, in the same order, with the addresses the vendor knows for the records they name: for
        vendors whose webhooks carry record ids only (HubSpot). Default: nothing to look up."""
        return events

    # -- provided ------------------------------------------------------------------------------------------------

    def receive_webhook(
        self, request: WebhookRequest, known: Callable[[Sequence[InboundEvent]], set[str]] | None = None
    ) -> Sequence[InboundEvent]:
        """Verify, then parse: nothing is parsed from a request that is not authentic. Then ask the vendor who the
        records named by id only are, except those `known` (the record ids Consentry has synced) already identifies:
        each question costs a call from the same rate budget as propagation."""
        self.webhook_verifier().verify(request)
        try:
            check_nesting(request.body)  # before any connector's parser recurses into it
            events = [_storable(event) for event in self.parse_webhook(request)]
        except (KeyError, ValueError, TypeError, OverflowError, RecursionError) as error:
            raise WebhookPayloadError(f"{self.name}: malformed webhook payload ({type(error).__name__})") from None
        anonymous = [i for i, event in enumerate(events) if event.record_id and not (event.email or event.phone)]
        if not anonymous:
            return events
        synced = known([events[i] for i in anonymous]) if known else set()
        strangers = [i for i in anonymous if events[i].record_id not in synced]
        if strangers:
            found = self.find_identities([events[i] for i in strangers])
            for position, event in zip(strangers, found, strict=True):
                events[position] = event
        return events

    def webhook_answer(self, events: Sequence[InboundEvent]) -> WebhookAnswer:
        """The body the vendor expects once the events are stored (Salesforce wants a SOAP Ack)."""
        return WebhookAnswer()

    def webhook_validation(self, request: WebhookRequest) -> WebhookAnswer | None:
        """An answer to the vendor's URL validation request (Mailchimp's GET), or None."""
        return None


def _storable(event: InboundEvent) -> InboundEvent:
    """What the ledger would refuse, refused with the whole delivery before any of it is stored (a 400 for the
    vendor), rather than found while committing: a time that cannot be put in UTC, text that is not Unicode."""
    EventKind(event.kind)
    if not 0 < len(event.event_key) <= 200:  # the ledger's key
        raise ValueError("an event key is empty or longer than 200 characters")
    if event.channel not in LEDGER_CHANNELS:
        raise ValueError("an event names an unknown channel")
    if event.occurred_at.tzinfo is None or not 1900 <= event.occurred_at.astimezone(UTC).year <= 2999:
        raise ValueError("an event's time has no time zone or is out of range")
    texts = (event.event_key, event.system, event.email, event.phone, event.record_id, event.origin, event.vendor_type)
    for text in texts:
        if text is not None:
            text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    return event


def _failing_as_connector_errors(hook):
    @functools.wraps(hook)
    def call(self, *args, **kwargs):
        with vendor_failures(self.name):
            return hook(self, *args, **kwargs)

    return call


def _streaming_as_connector_errors(hook):
    """For `fetch_contacts`: the vendor is called while the caller iterates, so the iteration is guarded too."""

    @functools.wraps(hook)
    def stream(self, *args, **kwargs):
        with vendor_failures(self.name):
            yield from hook(self, *args, **kwargs)

    return stream
