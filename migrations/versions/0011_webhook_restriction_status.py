"""The processor lease says whether its webhook pump can read the restriction

Revision ID: 0011
Revises: 0010

While the pump's gate cannot read the maintenance state it holds every webhook call; the
processor writes that (since when, and the error) with each lease renewal so /healthz,
/metrics and the dashboard of any process can show it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "processor_lease",
        sa.Column("restriction_unreadable_since", sa.DateTime(), nullable=True),
    )
    op.add_column("processor_lease", sa.Column("restriction_error", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("processor_lease") as batch_op:
        batch_op.drop_column("restriction_error")
        batch_op.drop_column("restriction_unreadable_since")
