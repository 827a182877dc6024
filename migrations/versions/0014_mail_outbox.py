"""Mail: the outbox and its attempts, password-reset links, maintenance emails on/off

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("to_address", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column(
            "window_id",
            sa.Integer(),
            sa.ForeignKey("maintenance_windows.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_mail_outbox_status_next", "mail_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_mail_outbox_topic", "mail_outbox", ["topic"])
    op.create_index("ix_mail_outbox_window_id", "mail_outbox", ["window_id"])
    op.create_table(
        "mail_attempts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "message_id",
            BigId,
            sa.ForeignKey("mail_outbox.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
    )
    op.create_index("ix_mail_attempts_message_id", "mail_attempts", ["message_id"])
    op.create_table(
        "password_resets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("password_marker", sa.String(64), nullable=False),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])
    # In place, not batch mode: a copy of users would cascade to user_roles, user_groups and
    # user_sessions (SQLite's foreign keys are on).
    op.add_column(
        "users",
        sa.Column("maintenance_emails", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade():
    op.execute("ALTER TABLE users DROP COLUMN maintenance_emails")  # in place, as above
    op.drop_table("password_resets")
    op.drop_table("mail_attempts")
    op.drop_table("mail_outbox")
