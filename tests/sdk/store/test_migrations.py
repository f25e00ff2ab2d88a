"""The migrations build the schema the code declares, on each backend: a table, column or index added to
`schema.py` without its migration would exist in tests built from the metadata, and be missing in production."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from consentry.sdk.store import metadata


def test_the_migrations_build_the_declared_schema(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
