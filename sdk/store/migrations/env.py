"""Alembic environment: runs migrations online against the configured URL."""

from alembic import context

from consentry.sdk.store.engine import make_engine
from consentry.sdk.store.schema import metadata

url = context.config.get_main_option("sqlalchemy.url")
if url is None:
    raise RuntimeError("alembic.ini sets no sqlalchemy.url")  # Consentry always sets it before migrating
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
