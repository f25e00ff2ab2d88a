"""Storage: SQLAlchemy 2 tables, engine selection and Alembic migrations."""

from .engine import insert_ignoring_duplicates, make_engine, reading
from .migrate import upgrade
from .schema import (
    consent_events,
    contacts,
    erasures,
    metadata,
    persons,
    propagation_jobs,
    suppression_entries,
    sync_state,
)

__all__ = [
    "consent_events",
    "contacts",
    "erasures",
    "insert_ignoring_duplicates",
    "make_engine",
    "metadata",
    "persons",
    "propagation_jobs",
    "reading",
    "suppression_entries",
    "sync_state",
    "upgrade",
]
