"""Maintenance windows: a scheduled start with advance notice, and the window report

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    # Plain ADD/DROP COLUMN, no batch copy: on SQLite, recreating maintenance_state with
    # foreign keys on would cascade-delete the saved bypass roles and groups.
    op.add_column("maintenance_state", sa.Column("scheduled_start", sa.DateTime(), nullable=True))
    op.add_column(
        "maintenance_state",
        sa.Column("notice_minutes", sa.Integer(), nullable=False, server_default="30"),
    )
    op.add_column(
        "maintenance_state", sa.Column("schedule_cancelled_at", sa.DateTime(), nullable=True)
    )
    op.add_column(
        "maintenance_state", sa.Column("schedule_cancelled_reason", sa.Text(), nullable=True)
    )
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_by", sa.String(length=255), nullable=False),
        sa.Column("started_via", sa.String(length=16), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=255), nullable=True),
        sa.Column("ended_via", sa.String(length=16), nullable=True),
        sa.Column("refused_signins", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    op.create_index(
        op.f("ix_maintenance_windows_started_at"), "maintenance_windows", ["started_at"]
    )
    op.create_table(
        "maintenance_restriction_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("events_received", sa.Integer(), nullable=True),
        sa.Column("peak_backlog", sa.Integer(), nullable=True),
        sa.Column("last_held_id", BigId, nullable=True),
        sa.Column("drained_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_maintenance_restriction_periods_window_id_maintenance_windows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_restriction_periods")),
    )
    op.create_index(
        op.f("ix_maintenance_restriction_periods_window_id"),
        "maintenance_restriction_periods",
        ["window_id"],
    )
    # A window already open when this runs: record it from its known start.
    op.execute(
        "INSERT INTO maintenance_windows (started_at, started_by, started_via) "
        "SELECT enabled_since, COALESCE(changed_by, 'cli'), "
        "CASE WHEN changed_by IS NULL OR changed_by = 'cli' THEN 'cli' ELSE 'web' END "
        "FROM maintenance_state WHERE enabled = TRUE AND enabled_since IS NOT NULL"
    )


def downgrade():
    op.drop_index(
        op.f("ix_maintenance_restriction_periods_window_id"),
        table_name="maintenance_restriction_periods",
    )
    op.drop_table("maintenance_restriction_periods")
    op.drop_index(op.f("ix_maintenance_windows_started_at"), table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
    for column in (
        "schedule_cancelled_reason",
        "schedule_cancelled_at",
        "notice_minutes",
        "scheduled_start",
    ):  # SQLite 3.35+ drops a column in place (no table copy, so no cascade)
        op.execute(f"ALTER TABLE maintenance_state DROP COLUMN {column}")
