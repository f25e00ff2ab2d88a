"""Rights requests: when each was closed (every system done), so that `/metrics`, the console and `rights list`
read the requests still open instead of every request ever received. Requests already done are closed here, at
the time their last job was done (an access request: now, its export time not being kept).

Revision ID: 0011
Revises: 0010
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_REQUESTS = sa.table(
    "rights_requests",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("exported", sa.Text),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)
_JOBS = sa.table(
    "propagation_jobs",
    sa.column("request_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("done_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("rights_requests") as table:
        table.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        table.create_index("ix_rights_requests_closed_at", ["closed_at"], unique=False)
    requests, jobs = _REQUESTS.c, _JOBS.c
    of_request = jobs.request_id == requests.id
    unfinished = sa.exists().where(of_request, jobs.status != "done")
    last_done = sa.select(sa.func.max(jobs.done_at)).where(of_request).scalar_subquery()
    op.execute(
        _REQUESTS.update()
        .where(requests.kind != "access", ~unfinished)
        .values(closed_at=sa.func.coalesce(last_done, requests.received_at))
    )
    connection = op.get_bind()
    exported = connection.execute(
        sa.select(requests.id, requests.exported).where(requests.kind == "access", requests.exported.is_not(None))
    ).all()
    answered = [row.id for row in exported if all(value == "done" for value in json.loads(row.exported).values())]
    if answered:
        op.execute(_REQUESTS.update().where(requests.id.in_(answered)).values(closed_at=datetime.now(UTC)))


def downgrade() -> None:
    with op.batch_alter_table("rights_requests") as table:
        table.drop_index("ix_rights_requests_closed_at")
        table.drop_column("closed_at")
