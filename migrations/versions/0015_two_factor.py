"""Two-factor sign-in (TOTP and recovery codes) and what the open-sessions page shows

Revision ID: 0015
Revises: 0014

A user's TOTP secret with the last time step used, their single-use recovery codes (hashed),
the client's "require two-factor sign-in" option, and each session's browser, address and
last-seen time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "two_factor",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_two_factor_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_two_factor")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    op.add_column(
        "clients",
        sa.Column("require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "user_sessions",
        sa.Column("user_agent", sa.String(255), nullable=False, server_default=""),
    )
    op.add_column(
        "user_sessions", sa.Column("address", sa.String(64), nullable=False, server_default="")
    )
    op.add_column("user_sessions", sa.Column("last_seen_at", sa.DateTime(), nullable=True))


def downgrade():
    # In place, not batch mode: a copy of clients would break its users' foreign keys (SQLite's
    # foreign keys are on); SQLite 3.35+ and PostgreSQL drop a column in place.
    for column in ("last_seen_at", "address", "user_agent"):
        op.execute(f"ALTER TABLE user_sessions DROP COLUMN {column}")
    op.execute("ALTER TABLE clients DROP COLUMN require_two_factor")
    op.drop_index("ix_recovery_codes_user_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
