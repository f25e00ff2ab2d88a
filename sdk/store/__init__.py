"""Storage: SQLAlchemy 2 tables, engine selection and Alembic migrations."""

from .engine import consistent_reading, insert_ignoring_duplicates, make_engine, reading
from .migrate import upgrade
from .schema import (
    api_keys,
    call_log,
    consent_events,
    console_audit,
    console_users,
    contacts,
    erased_records,
    erasures,
    idempotency_keys,
    metadata,
    persons,
    propagation_jobs,
    rights_requests,
    suppression_entries,
    sync_state,
)

__all__ = [
    "api_keys",
    "call_log",
    "consent_events",
    "consistent_reading",
    "console_audit",
    "console_users",
    "contacts",
    "erased_records",
    "erasures",
    "idempotency_keys",
    "insert_ignoring_duplicates",
    "make_engine",
    "metadata",
    "persons",
    "propagation_jobs",
    "reading",
    "rights_requests",
    "suppression_entries",
    "sync_state",
    "upgrade",
]
