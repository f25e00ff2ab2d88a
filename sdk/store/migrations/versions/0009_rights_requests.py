"""Rights requests (GDPR Art. 15, 17, 21) on the legal clock, carried out through the job table: a job's action
(an opt-out to push, or an erasure to carry out) and its request; the vendor record ids an erasure deleted, whose
deletion webhooks are its echoes.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", _IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_zone", sa.String(length=60), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("verified_by", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("exported", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
    )
    op.create_table(
        "erased_records",
        sa.Column("id", _IDENTIFIER, autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=120), nullable=False),
        sa.Column("request_id", _IDENTIFIER, nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["rights_requests.id"], name=op.f("fk_erased_records_request_id_rights_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erased_records")),
        sa.UniqueConstraint("system", "record_id", name="uq_erased_records_system"),
    )
    with op.batch_alter_table("propagation_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sa.String(length=12), server_default="unsubscribe", nullable=False))
        batch_op.add_column(sa.Column("request_id", _IDENTIFIER, nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_propagation_jobs_request_id"), ["request_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_propagation_jobs_request_id_rights_requests"), "rights_requests", ["request_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("propagation_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_propagation_jobs_request_id_rights_requests"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_propagation_jobs_request_id"))
        batch_op.drop_column("outcome")
        batch_op.drop_column("request_id")
        batch_op.drop_column("action")
    op.drop_table("erased_records")
    op.drop_table("rights_requests")
