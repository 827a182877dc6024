"""retention: clients.retention_days and the per-client totals

Revision ID: 0005
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), nullable=False, server_default="30")
        )
    op.create_table(
        "client_totals",
        sa.Column("client_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("counted_through", sa.DateTime(), nullable=True),
        sa.Column("events_processed", sa.BigInteger(), nullable=False),
        sa.Column("events_failed", sa.BigInteger(), nullable=False),
        sa.Column("deliveries_succeeded", sa.BigInteger(), nullable=False),
        sa.Column("deliveries_failed", sa.BigInteger(), nullable=False),
        sa.Column("latency", sa.JSON(), nullable=True),
        sa.Column("purged_events", sa.BigInteger(), nullable=False),
        sa.Column("purged_deliveries", sa.BigInteger(), nullable=False),
        sa.Column("last_purged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_totals_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_client_totals")),
    )


def downgrade():
    op.drop_table("client_totals")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
