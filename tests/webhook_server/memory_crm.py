"""A CRM held in memory, for the sync's rules without a vendor: records, consent tags and unsubscribes."""

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from consentry.connectors.base import Capability, Connector, RemoteContact, WriteReport
from consentry.sdk.http import CallCounter


@dataclass
class Record:
    email: str
    updated_at: datetime
    opted_out: set[str] = field(default_factory=set)


RECORDS: dict[str, Record] = {}
REFUSED: set[str] = set()  # addresses whose unsubscribe the vendor refuses (INVALID_EMAIL); "*": every batch
TAGS: dict[str, dict[str, str]] = {}  # record id -> the verdicts per channel Consentry last tagged it with
DURING_PUSH: list = []  # functions called while a push is under way (a webhook racing the push)


class MemoryCRM(Connector):
    name = "memory"
    capabilities = frozenset({Capability.SYNC_CONTACTS, Capability.TAG_CONSENT, Capability.PUSH_UNSUBSCRIBE})

    def __init__(self, config, **options):
        super().__init__(config, **options)
        self.transport = SimpleNamespace(calls=CallCounter())  # the sync counts calls through it

    def fetch_contacts(self, since=None):
        for record_id, record in RECORDS.items():
            if since is None or record.updated_at > since:
                yield RemoteContact(
                    self.name,
                    record_id,
                    email=record.email,
                    opted_out=frozenset(record.opted_out),
                    subscribed=frozenset({"email"}) - record.opted_out,
                    updated_at=record.updated_at,
                )

    def apply_consent(self, tags):
        report = WriteReport(calls=1)
        for tag in tags:
            TAGS[tag.record_id] = dict(tag.status)
            if tag.known.get("resubscribe"):
                RECORDS[tag.record_id].opted_out.discard("email")
            report.applied += 1
        return report

    def push_unsubscribes(self, items):
        report = WriteReport(calls=1)
        items = list(items)
        for during in DURING_PUSH:
            during()
        if "*" in REFUSED:  # the batch refused, without saying which item (HubSpot's batch errors)
            report.failed.append((-1, "BATCH_REFUSED"))
            return report
        for position, item in enumerate(items):
            if item.email in REFUSED:
                report.failed.append((position, "INVALID_EMAIL"))
                continue
            for record in RECORDS.values():
                if record.email == item.email:
                    record.opted_out.add("email")
            report.applied += 1
        return report
