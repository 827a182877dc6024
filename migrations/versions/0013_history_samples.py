"""History samples: the processor's figures every HISTORY_SAMPLE_SECONDS, for the charts

Revision ID: 0013
Revises: 0012

One row per client and one for every client together (client_id NULL) per sample; the
retention purge keeps the table bounded.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "history_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column(
            "client_id",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("queued", sa.BigInteger(), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_history_samples_taken_at", "history_samples", ["taken_at"])
    op.create_index("ix_history_samples_client_taken", "history_samples", ["client_id", "taken_at"])


def downgrade():
    op.drop_index("ix_history_samples_client_taken", table_name="history_samples")
    op.drop_index("ix_history_samples_taken_at", table_name="history_samples")
    op.drop_table("history_samples")
