"""Initial schema: persons, contacts, consent ledger, suppression list, erasures.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("events_removed", sa.Integer(), nullable=False),
        sa.Column("contacts_removed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("email", name=op.f("uq_persons_email")),
        sa.UniqueConstraint("phone", name=op.f("uq_persons_phone")),
    )
    op.create_table(
        "suppression_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("identifier_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("pepper_id", sa.String(length=20), nullable=False),
        sa.Column("identifier_kind", sa.String(length=8), nullable=False),
        sa.Column("channels", sa.String(length=120), nullable=False),
        sa.Column("reason_code", sa.String(length=60), nullable=False),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_entries")),
        sa.UniqueConstraint("identifier_hash", "pepper_id", name="uq_suppression_hash"),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=60), nullable=False),
        sa.Column("advertiser", sa.String(length=120), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("source_record_id", sa.String(length=120), nullable=True),
        sa.Column("collection_point", sa.Text(), nullable=True),
        sa.Column("wording", sa.Text(), nullable=True),
        sa.Column("wording_version", sa.String(length=60), nullable=True),
        sa.Column("method", sa.String(length=40), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_consent_events_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_consent_events_event_key")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_events_person_scope", ["person_id", "advertiser", "purpose", "channel"], unique=False
        )

    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("source_record_id", sa.String(length=120), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=True),
        sa.Column("audience", sa.String(length=24), nullable=True),
        sa.Column("is_customer", sa.Boolean(), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=True),
        sa.Column("last_inbound_contact", sa.Date(), nullable=True),
        sa.Column("relationship_end", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_contacts_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("source_system", "source_record_id", name="uq_contacts_source"),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_person_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_person_scope")

    op.drop_table("consent_events")
    op.drop_table("suppression_entries")
    op.drop_table("persons")
    op.drop_table("erasures")
