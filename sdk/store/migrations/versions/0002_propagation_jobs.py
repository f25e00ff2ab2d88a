"""Propagation jobs: one row per opt-out and target system, the audit trail of the propagation.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "propagation_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("target_system", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_propagation_jobs_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_propagation_jobs")),
        sa.UniqueConstraint("event_key", "target_system", name="uq_propagation_event_target"),
    )
    with op.batch_alter_table("propagation_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_propagation_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_propagation_jobs_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("propagation_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_propagation_jobs_person_id"))
        batch_op.drop_index("ix_propagation_due")

    op.drop_table("propagation_jobs")
