"""webhook drain: delivery limits, circuit breaker, attempts, event counters, whsec_ secrets

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:40:00

"""
import base64

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SECRET_PREFIX = 'whsec_'
COUNTED = ('queued', 'failed')


def upgrade():
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_in_flight', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_limit', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('consecutive_failures', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failing_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
        batch_op.drop_constraint('uq_deliveries_event_workflow', type_='unique')
        batch_op.create_index('ix_deliveries_event_id', ['event_id'], unique=False)
        batch_op.create_index('ix_deliveries_workflow_due', ['workflow_id', 'status', 'next_attempt_at'], unique=False)

    big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as in 0002
    op.create_table('delivery_attempts',
    sa.Column('id', big_id, nullable=False),
    sa.Column('delivery_id', big_id, nullable=False),
    sa.Column('attempted_at', sa.DateTime(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_attempts_delivery_id_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempts'))
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('event_counters',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_event_counters_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', 'status', 'shard', name=op.f('pk_event_counters'))
    )

    bind = op.get_bind()
    events = sa.table('events', sa.column('client_id'), sa.column('status'))
    counts = bind.execute(
        sa.select(events.c.client_id, events.c.status, sa.func.count())
        .where(events.c.status.in_(COUNTED))
        .group_by(events.c.client_id, events.c.status)
    ).all()
    counters = sa.table('event_counters', sa.column('client_id'), sa.column('status'), sa.column('shard'), sa.column('count'))
    if counts:
        op.bulk_insert(counters, [
            {'client_id': client_id, 'status': status, 'shard': 0, 'count': number}
            for client_id, status, number in counts
        ])

    # Standard Webhooks secrets are "whsec_" + the base64 of the key bytes: an existing secret's
    # bytes stay the HMAC key, so a receiver only changes how it verifies, not the key.
    workflows = sa.table('workflows', sa.column('id'), sa.column('secret'))
    for row in bind.execute(sa.select(workflows.c.id, workflows.c.secret)).all():
        if row.secret and not row.secret.startswith(SECRET_PREFIX):
            encoded = SECRET_PREFIX + base64.b64encode(row.secret.encode()).decode()
            bind.execute(workflows.update().where(workflows.c.id == row.id).values(secret=encoded))


def downgrade():
    workflows = sa.table('workflows', sa.column('id'), sa.column('secret'))
    bind = op.get_bind()
    for row in bind.execute(sa.select(workflows.c.id, workflows.c.secret)).all():
        if row.secret and row.secret.startswith(SECRET_PREFIX):
            raw = base64.b64decode(row.secret[len(SECRET_PREFIX):]).decode(errors='replace')
            bind.execute(workflows.update().where(workflows.c.id == row.id).values(secret=raw))
    op.drop_table('event_counters')
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_delivery_id'))
    op.drop_table('delivery_attempts')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_workflow_due')
        batch_op.drop_index('ix_deliveries_event_id')
        batch_op.create_unique_constraint('uq_deliveries_event_workflow', ['event_id', 'workflow_id'])
        batch_op.drop_column('claimed_until')
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.drop_column('pause_reason')
        batch_op.drop_column('failing_since')
        batch_op.drop_column('paused_at')
        batch_op.drop_column('consecutive_failures')
        batch_op.drop_column('rate_limit')
        batch_op.drop_column('max_in_flight')
