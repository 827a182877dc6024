"""Finished events and deliveries counted at finish time; a drain's failed deliveries frozen

Revision ID: 0010
Revises: 0009

The metrics' totals of finished events and deliveries (with the latency histogram) move from
``client_totals`` (summed up to ``counted_through``, the rest counted from the rows at every
scrape) into ``event_counters``, where every finish is now counted in its own transaction. The
figures carry over: each client's summed part plus what finished after ``counted_through``.
A restriction period gets ``failed_in_drain``, fixed when its drain ends; the periods already
drained get it counted once, now. Periods and windows also keep each client's figures, fixed when
they end (``client_figures``, ``client_refused_signins``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
FINISHED = ("processed", "failed")
DELIVERED = ("succeeded", "failed")

totals = sa.table(
    "client_totals",
    sa.column("client_id", sa.Integer()),
    sa.column("counted_through", sa.DateTime()),
    sa.column("events_processed", sa.BigInteger()),
    sa.column("events_failed", sa.BigInteger()),
    sa.column("deliveries_succeeded", sa.BigInteger()),
    sa.column("deliveries_failed", sa.BigInteger()),
    sa.column("latency", sa.JSON()),
)
events = sa.table(
    "events",
    sa.column("id", sa.BigInteger()),
    sa.column("client_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("processed_at", sa.DateTime()),
)
deliveries = sa.table(
    "deliveries",
    sa.column("event_id", sa.BigInteger()),
    sa.column("status", sa.String()),
    sa.column("created_at", sa.DateTime()),
    sa.column("finished_at", sa.DateTime()),
)
counters = sa.table(
    "event_counters",
    sa.column("client_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("shard", sa.Integer()),
    sa.column("count", sa.BigInteger()),
)
periods = sa.table(
    "maintenance_restriction_periods",
    sa.column("id", sa.Integer()),
    sa.column("ended_at", sa.DateTime()),
    sa.column("last_held_id", sa.BigInteger()),
    sa.column("drained_at", sa.DateTime()),
    sa.column("failed_in_drain", sa.Integer()),
)


def _bucket(seconds: float) -> int:
    return next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))


def _carried(connection, client_id: int, row) -> dict[str, int]:
    """The client's figures as the old code showed them: summed part plus the live part."""
    found = dict.fromkeys(
        [f"ev:{s}" for s in FINISHED]
        + [f"dl:{s}" for s in DELIVERED]
        + [f"lat:{i}" for i in range(len(BUCKETS) + 1)]
        + ["lat:ms"],
        0,
    )
    if row is not None:
        found["ev:processed"] = row.events_processed or 0
        found["ev:failed"] = row.events_failed or 0
        found["dl:succeeded"] = row.deliveries_succeeded or 0
        found["dl:failed"] = row.deliveries_failed or 0
        if row.latency:
            for index, number in enumerate(row.latency["counts"]):
                found[f"lat:{index}"] = number
            found["lat:ms"] = round(float(row.latency["sum"]) * 1000)
    window = [
        events.c.client_id == client_id,
        events.c.status.in_(FINISHED),
        events.c.processed_at.is_not(None),
    ]
    if row is not None and row.counted_through is not None:
        window.append(events.c.processed_at > row.counted_through)
    for status, number in connection.execute(
        sa.select(events.c.status, sa.func.count()).where(*window).group_by(events.c.status)
    ):
        found[f"ev:{status}"] += number
    finished = connection.execute(
        sa.select(deliveries.c.status, deliveries.c.created_at, deliveries.c.finished_at)
        .select_from(events.join(deliveries, deliveries.c.event_id == events.c.id))
        .where(*window, deliveries.c.finished_at.is_not(None))
        .execution_options(yield_per=5000)
    )
    for status, created, ended in finished:
        seconds = max(round((ended - created).total_seconds(), 3), 0.0)
        found[f"dl:{status}"] = found.get(f"dl:{status}", 0) + 1
        found[f"lat:{_bucket(seconds)}"] += 1
        found["lat:ms"] += round(seconds * 1000)
    return found


def upgrade():
    connection = op.get_bind()
    stored = {row.client_id: row for row in connection.execute(sa.select(totals))}
    for (client_id,) in connection.execute(sa.text("SELECT id FROM clients")).all():
        rows = [
            {"client_id": client_id, "status": name, "shard": 0, "count": number}
            for name, number in _carried(connection, client_id, stored.get(client_id)).items()
            if number
        ]
        if rows:
            connection.execute(sa.insert(counters), rows)
    op.add_column(
        "maintenance_restriction_periods", sa.Column("failed_in_drain", sa.Integer(), nullable=True)
    )
    # Each client's figures of a period (fixed when its drain ends) and of a window's refused
    # sign-ins (when it ends); null for what ended before: counted from the rows, as before.
    op.add_column(
        "maintenance_restriction_periods", sa.Column("client_figures", sa.JSON(), nullable=True)
    )
    op.add_column(
        "maintenance_windows", sa.Column("client_refused_signins", sa.JSON(), nullable=True)
    )
    for period in connection.execute(
        sa.select(periods).where(periods.c.drained_at.is_not(None))
    ).all():
        failed = 0
        if period.last_held_id is not None:
            failed = connection.execute(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(
                    deliveries.c.event_id <= period.last_held_id,
                    deliveries.c.created_at >= period.ended_at,
                    deliveries.c.status == "failed",
                )
            ).scalar()
        connection.execute(
            sa.update(periods).where(periods.c.id == period.id).values(failed_in_drain=failed)
        )


def downgrade():
    # SQLite 3.35+ drops a column in place (no table copy, so no cascade)
    op.execute("ALTER TABLE maintenance_restriction_periods DROP COLUMN failed_in_drain")
    op.execute("ALTER TABLE maintenance_restriction_periods DROP COLUMN client_figures")
    op.execute("ALTER TABLE maintenance_windows DROP COLUMN client_refused_signins")
    # The old code counts what finished after counted_through from the rows: from the start.
    op.execute("DELETE FROM event_counters WHERE status LIKE '%:%'")
    op.execute(
        "UPDATE client_totals SET counted_through = NULL, events_processed = 0,"
        " events_failed = 0, deliveries_succeeded = 0, deliveries_failed = 0, latency = NULL"
    )
