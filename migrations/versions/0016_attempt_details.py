"""Every webhook attempt keeps its request headers and the start of its answer

Revision ID: 0016
Revises: 0015

The request's headers (the signature and any Authorization redacted), the response's headers
and the first 4 KiB of its body, shown on the event page; attempts are indexed by time
for the dashboard's failed calls of a drain. And the events page's bulk jobs (retry, replay),
run by the processor with their progress.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("delivery_attempts", sa.Column("request_headers", sa.JSON(), nullable=True))
    op.add_column("delivery_attempts", sa.Column("response_headers", sa.JSON(), nullable=True))
    op.add_column("delivery_attempts", sa.Column("response_body", sa.Text(), nullable=True))
    op.create_index(
        "ix_delivery_attempts_attempted_at", "delivery_attempts", ["attempted_at"], unique=False
    )


    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("client_ids", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bulk_jobs_status", "bulk_jobs", ["status"], unique=False)


def downgrade():
    op.drop_index("ix_bulk_jobs_status", table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
    op.drop_index("ix_delivery_attempts_attempted_at", table_name="delivery_attempts")
    with op.batch_alter_table("delivery_attempts") as batch_op:
        batch_op.drop_column("response_body")
        batch_op.drop_column("response_headers")
        batch_op.drop_column("request_headers")
