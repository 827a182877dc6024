"""users: last_signed_in_at, must_change_password

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # In place, not batch mode: a copy of users would cascade to user_roles, user_groups and
    # user_sessions (SQLite's foreign keys are on).
    op.add_column('users', sa.Column('last_signed_in_at', sa.DateTime(), nullable=True))
    op.add_column(
        'users',
        sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    # In place for the same reason (SQLite 3.35+ and PostgreSQL drop a column in place).
    for column in ('must_change_password', 'last_signed_in_at'):
        op.execute(f'ALTER TABLE users DROP COLUMN {column}')
