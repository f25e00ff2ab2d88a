"""Propagation jobs outlive an erased person: an opt-out on its way is delivered, not dropped with the person.

The job keeps the identifiers it must deliver (`held_email`, `held_phone`) until it is done; its link to the
person is set to NULL instead of deleting the job with the person.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_IDENTIFIER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FOREIGN_KEY = "fk_propagation_jobs_person_id_persons"


def upgrade() -> None:
    with op.batch_alter_table("propagation_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("held_phone", sa.String(length=32), nullable=True))
        batch_op.alter_column("person_id", existing_type=_IDENTIFIER, nullable=True)
        batch_op.drop_constraint(_FOREIGN_KEY, type_="foreignkey")
        batch_op.create_foreign_key(_FOREIGN_KEY, "persons", ["person_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("propagation_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(_FOREIGN_KEY, type_="foreignkey")
        batch_op.create_foreign_key(_FOREIGN_KEY, "persons", ["person_id"], ["id"], ondelete="CASCADE")
        batch_op.drop_column("held_phone")
        batch_op.drop_column("held_email")
