"""The database schema: people, their contacts in each system, the consent ledger, the suppression list, the
public API's keys, call log and idempotency keys, and the console's users and audit log.

Clear identifiers live in `persons`, and in a propagation job only while an erased person's opt-out is still on
its way; the suppression list holds keyed hashes; an erasure leaves a row in `erasures` that says when, never who.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Identifier = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and read back aware on every database. SQLite keeps no offset: without this, an
    aware time in another zone would be stored as its wall-clock reading, and every read would hand back a naive
    time that each caller had to mark as UTC again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value  # naive times are taken as UTC, as they always were
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


persons = Table(
    "persons",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("email", String(320), unique=True),
    Column("phone", String(32), unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("person_id", Identifier, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("source_system", String(40), nullable=False),
    Column("source_record_id", String(120), nullable=False),
    Column("jurisdiction", String(8)),
    Column("audience", String(24)),
    Column("is_customer", Boolean, nullable=False, default=False),
    Column("collected_on", Date),
    Column("last_inbound_contact", Date),
    Column("relationship_end", Date),
    Column("opted_out_channels", String(120), nullable=False, server_default=""),  # what this system says, as read
    Column("vendor_state", String(40)),
    Column("written_tag", String(200)),  # the consent tag Consentry last wrote there ("email=allowed;sms=...")
    Column("kept_fields", Text),  # JSON: the record's fields, as read, that its connector needs to write it again
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("source_system", "source_record_id", name="uq_contacts_source"),
)

consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("person_id", Identifier, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("advertiser", String(120), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("source_system", String(40), nullable=False),
    Column("source_record_id", String(120)),
    Column("collection_point", Text),
    Column("wording", Text),
    Column("wording_version", String(60)),
    Column("method", String(40)),
    Column("ip", String(64)),
    Column("user_agent", Text),
    Index("ix_consent_events_person_scope", "person_id", "advertiser", "purpose", "channel"),
)

suppression_entries = Table(
    "suppression_entries",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("identifier_hash", LargeBinary(32), nullable=False),
    Column("pepper_id", String(20), nullable=False),
    Column("identifier_kind", String(8), nullable=False),
    Column("channels", String(120), nullable=False),
    Column("reason_code", String(60), nullable=False),
    Column("added_on", Date, nullable=False),
    UniqueConstraint("identifier_hash", "pepper_id", name="uq_suppression_hash"),
)

erasures = Table(
    "erasures",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("erased_at", UtcDateTime(), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("events_removed", Integer, nullable=False),
    Column("contacts_removed", Integer, nullable=False),
)

rights_requests = Table(
    "rights_requests",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),  # erasure, access, objection
    Column("received_at", UtcDateTime(), nullable=False),
    Column("received_zone", String(60), nullable=False),  # the zone its day of receipt was read in
    Column("due_on", Date, nullable=False),
    Column("extended_at", UtcDateTime()),
    Column("extension_reason", Text),
    Column("verified_by", String(200)),  # how identity was checked, never a copy of a document
    Column("source", String(40), nullable=False),  # cli, api, or the system where the person was erased
    # Whom the request names, until it is carried out: an erasure wipes them with the person (the suppression
    # hashes stay); access and objection keep them, as the ledger keeps the person.
    Column("email", String(320)),
    Column("phone", String(32)),
    Column("exported", Text),  # access: JSON, each system's status at the last export
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),  # an erasure: Consentry's own part done, the identifiers wiped
    Column("closed_at", UtcDateTime()),  # every system's part done: no longer read to count open requests
    Index("ix_rights_requests_closed_at", "closed_at"),
)

erased_records = Table(
    "erased_records",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("system", String(40), nullable=False),
    Column("record_id", String(120), nullable=False),  # the vendor's id: its deletion webhook is an echo
    Column("request_id", Identifier, ForeignKey("rights_requests.id"), nullable=False),
    Column("erased_at", UtcDateTime(), nullable=False),
    UniqueConstraint("system", "record_id", name="uq_erased_records_system"),
)

propagation_jobs = Table(
    "propagation_jobs",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False),
    # NULL once the person is erased: the audit row stays, naming nobody
    Column("person_id", Identifier, ForeignKey("persons.id", ondelete="SET NULL"), index=True),
    Column("source_system", String(40), nullable=False),
    Column("target_system", String(40), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(10), nullable=False),  # pending, running, done, failed (will retry), dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_until", UtcDateTime()),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime()),
    Column("last_error", String(120)),
    # An opt-out still on its way when its person was erased keeps the identifiers it must deliver, and only
    # until it is done: an erasure never drops an objection (sdk.erasure).
    Column("held_email", String(320)),
    Column("held_phone", String(32)),
    # What the job does in its target: push an opt-out ("unsubscribe"), or carry out a rights request's erasure
    # there ("erase"; target "consentry" is Consentry's own, run once every other system's is done).
    Column("action", String(12), nullable=False, server_default="unsubscribe"),
    Column("request_id", Identifier, ForeignKey("rights_requests.id"), index=True),
    Column("outcome", String(40)),  # what a done job did there: hard_delete, recycle_bin, erased_in_target ...
    UniqueConstraint("event_key", "target_system", name="uq_propagation_event_target"),
    Index("ix_propagation_due", "status", "next_attempt_at"),
    Index("ix_propagation_done", "done_at"),  # the latest jobs done, for /metrics
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("connector", String(40), primary_key=True),
    Column("watermark", UtcDateTime()),  # contacts changed since then are read on the next run
    Column("updated_at", UtcDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("name", String(60), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the key, never the key
    Column("scopes", String(100), nullable=False),  # comma-separated
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

call_log = Table(
    "call_log",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    # NULL once the person is erased: the row names nobody (it holds no identifier of its own)
    Column("person_id", Identifier, ForeignKey("persons.id", ondelete="SET NULL"), index=True),
    Column("advertiser", String(120), nullable=False),
    Column("event_key", String(200), nullable=False, unique=True),  # the dialer's report, recorded once
    Column("outcome", String(20), nullable=False),  # no_answer, answered, refused, do_not_call_again
    Column("called_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("endpoint", String(40), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the JSON answer given the first time
    Column("created_at", UtcDateTime(), nullable=False),
)

console_users = Table(
    "console_users",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("name", String(60), nullable=False, unique=True),
    Column("role", String(12), nullable=False),  # viewer (reads) or operator (also acts)
    Column("password_hash", String(255), nullable=False),  # scrypt, salted, never the password
    Column("failed_attempts", Integer, nullable=False, default=0),  # since the last sign-in or lock-out
    Column("locked_until", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
)

console_audit = Table(
    "console_audit",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("actor", String(60), nullable=False),  # the console user's name
    Column("at", UtcDateTime(), nullable=False),
    Column("action", String(60), nullable=False),  # lookup, retry job 12 ...
    # a look-up's identifier as the suppression list's keyed hash (hex) under its pepper: never the identifier
    Column("identifier_hash", String(64)),
    Column("pepper_id", String(20)),
    Index("ix_console_audit_at", "at"),
)
