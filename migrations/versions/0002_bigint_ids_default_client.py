"""64-bit ids for events, deliveries and audit entries; a marker for the default client

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_COLUMNS = (("events", "id"), ("deliveries", "id"), ("deliveries", "event_id"), ("audit_entries", "id"))


def upgrade():
    # SQLite: INTEGER PRIMARY KEY is already the 64-bit rowid (and must stay that exact type).
    if op.get_bind().dialect.name == "postgresql":
        for table, column in BIG_COLUMNS:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_nullable=False)
            if column == "id":
                op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS bigint")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(
            sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Policies saved before the bounds existed: a lockout past datetime's range broke sign-in.
    op.execute("UPDATE clients SET lockout_minutes = 525600 WHERE lockout_minutes > 525600")
    op.execute("UPDATE clients SET password_retry_limit = 1000 WHERE password_retry_limit > 1000")
    # ``flask setup`` creates the default client before any other: the oldest one is it.
    op.execute(
        "UPDATE clients SET is_default = TRUE WHERE id = (SELECT MIN(id) FROM clients)"
    )


def downgrade():
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_column("is_default")
    if op.get_bind().dialect.name == "postgresql":
        for table, column in BIG_COLUMNS:
            op.alter_column(table, column, type_=sa.Integer(), existing_nullable=False)
