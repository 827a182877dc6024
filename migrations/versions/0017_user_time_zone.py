"""Times a person reads: each user's time zone, and a maintenance window's expected end

Revision ID: 0017
Revises: 0016

``users.time_zone`` is an IANA zone name (NULL: the zone the browser reports);
``maintenance_state.expected_end`` is when the admin expects maintenance to end (naive UTC,
shown on the banners only: ending stays manual).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column("maintenance_state", sa.Column("expected_end", sa.DateTime(), nullable=True))


def downgrade():
    # In place, no batch copy: on SQLite, recreating either table would cascade into the
    # rows that refer to it (bypass selections, roles and groups of users). SQLite 3.35+.
    op.execute("ALTER TABLE maintenance_state DROP COLUMN expected_end")
    op.execute("ALTER TABLE users DROP COLUMN time_zone")
