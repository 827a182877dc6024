"""Retention: the processor deletes processed and failed events older than their client's
retention period, with their deliveries, in small batches.

Each batch is its own short write transaction opened like any other processor step (we hold
the lease and the restriction is off), so ingestion waits at most one batch for the lock, and
the pause after a batch lets waiting writers in. Queued events are never touched: the WHERE
clause of the DELETE repeats the status check. What was purged is counted per client in
:class:`PurgeTotals` (not audited row by row) so the metrics' counters never go down.
"""

import logging
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.accounts import AccountError
from portal.clock import utc_now
from portal.events.guard import begin_guarded, stopping
from portal.events.tables import deliveries, events
from portal.extensions import db
from portal.models import Client, PurgeTotals
from portal.models.events import DELIVERY_FAILED, DELIVERY_SUCCEEDED, EVENT_FAILED, EVENT_PROCESSED

log = logging.getLogger(__name__)
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 3650, 30
# Delivery latency buckets (seconds from the delivery being created to it finishing).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
FINISHED = (EVENT_PROCESSED, EVENT_FAILED)
_IDS = sa.bindparam("ids", expanding=True)
_next_look = {"at": 0.0}  # monotonic time of the next look for expired rows in this process


def set_retention(client: Client, days: int | None) -> None:
    """Set how many days ``client`` keeps processed and failed events (None: keep as is)."""
    if days is None:
        if client.retention_days is None:
            client.retention_days = DEFAULT_DAYS
        return
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise AccountError(
            f"Retention must be between {MIN_DAYS} and {MAX_DAYS} days.", "retention_days"
        )
    client.retention_days = days


def purge_due(holder: str) -> int:
    """Purge expired rows for up to the configured time of one tick; return events purged.

    When a look finds nothing left, the next one waits ``RETENTION_CHECK_SECONDS``.
    """
    config = current_app.config
    if time.monotonic() < _next_look["at"]:
        return 0
    deadline = time.monotonic() + float(config["RETENTION_SECONDS_PER_TICK"])
    purged, finished = purge_expired(holder, deadline, int(config["RETENTION_BATCH_SIZE"]))
    if finished:
        _next_look["at"] = time.monotonic() + float(config["RETENTION_CHECK_SECONDS"])
        if purged:
            release_free_pages()
    return purged


def purge_expired(holder: str, deadline: float, size: int) -> tuple[int, bool]:
    """Purge batches of ``size`` events until ``deadline`` (monotonic); return the events
    purged and whether nothing expired is left."""
    now = utc_now()
    total = 0
    policy = db.session.execute(sa.select(Client.id, Client.retention_days)).all()
    db.session.commit()
    for client_id, days in policy:
        cutoff = now - timedelta(days=max(int(days or DEFAULT_DAYS), MIN_DAYS))
        while True:
            if time.monotonic() >= deadline or stopping.is_set():
                return total, False
            started = time.monotonic()
            purged = purge_batch(holder, client_id, cutoff, size)
            if purged is None:  # restriction on, or the lease is lost: stop for this tick
                return total, False
            total += purged
            if purged < size:
                break
            # Let the writers that queued up behind this batch (ingestion) have the lock.
            time.sleep(max(time.monotonic() - started, 0.005))
    if total:
        log.info("Retention purged %d events.", total)
    return total, True


def purge_batch(holder: str, client_id: int, cutoff: datetime, size: int) -> int | None:
    """Delete up to ``size`` of the client's events finished before ``cutoff``, with their
    deliveries, in one transaction; return how many (None: not allowed to work now)."""
    if not begin_guarded(holder):
        return None
    rows = db.session.execute(
        sa.select(events.c.id, events.c.status)
        .where(
            events.c.client_id == client_id,
            events.c.processed_at < cutoff,
            events.c.status.in_(FINISHED),
        )
        .order_by(events.c.processed_at)
        .limit(size)
    ).all()
    if not rows:
        db.session.commit()
        return 0
    ids = [row.id for row in rows]
    gone = db.session.execute(
        sa.select(deliveries.c.status, deliveries.c.created_at, deliveries.c.finished_at).where(
            deliveries.c.event_id.in_(_IDS)
        ),
        {"ids": ids},
    ).all()
    db.session.execute(sa.delete(deliveries).where(deliveries.c.event_id.in_(_IDS)), {"ids": ids})
    deleted = db.session.execute(
        sa.delete(events).where(events.c.id.in_(_IDS), events.c.status.in_(FINISHED)),
        {"ids": ids},
    )
    _add_totals(client_id, rows, gone)
    db.session.commit()
    return deleted.rowcount


def _add_totals(client_id: int, rows, gone) -> None:
    totals = db.session.get(PurgeTotals, client_id)
    if totals is None:
        totals = PurgeTotals(
            client_id=client_id,
            events_processed=0,
            events_failed=0,
            deliveries_succeeded=0,
            deliveries_failed=0,
        )
        db.session.add(totals)
    failed = sum(row.status == EVENT_FAILED for row in rows)
    totals.events_failed += failed
    totals.events_processed += len(rows) - failed
    totals.deliveries_succeeded += sum(d.status == DELIVERY_SUCCEEDED for d in gone)
    totals.deliveries_failed += sum(d.status == DELIVERY_FAILED for d in gone)
    latency = dict(totals.latency or {"counts": [0] * (len(LATENCY_BUCKETS) + 1), "sum": 0.0})
    counts = list(latency["counts"])
    for delivery in gone:
        if delivery.finished_at is None or delivery.created_at is None:
            continue
        seconds = max((delivery.finished_at - delivery.created_at).total_seconds(), 0.0)
        counts[bucket_index(seconds)] += 1
        latency["sum"] += seconds
    totals.latency = {"counts": counts, "sum": latency["sum"]}
    totals.last_purged_at = utc_now()


def bucket_index(seconds: float) -> int:
    """Return the index of the first latency bucket that holds ``seconds`` (last: +Inf)."""
    for index, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return index
    return len(LATENCY_BUCKETS)


def purged_by_client(client_ids: list[int] | None = None) -> dict[int, PurgeTotals]:
    """Return the purge totals per client id (all clients when ``client_ids`` is None)."""
    query = sa.select(PurgeTotals)
    if client_ids is not None:
        query = query.where(PurgeTotals.client_id.in_(client_ids))
    return {row.client_id: row for row in db.session.scalars(query)}


def purge_summary(client_ids: list[int]) -> dict[int, dict]:
    """Return, per client id, the events retention purged and when it last did (dashboard)."""
    totals = purged_by_client(client_ids)
    summary = {}
    for client_id in client_ids:
        row = totals.get(client_id)
        summary[client_id] = {
            "purged": row.events_processed + row.events_failed if row else 0,
            "last_purge": row.last_purged_at.strftime("%Y-%m-%d %H:%M:%S")
            if row and row.last_purged_at
            else "",
        }
    return summary


def release_free_pages() -> None:
    """On SQLite in incremental auto-vacuum mode, give back to the file system the free pages
    beyond a quarter of the file (the rest is kept for the next ingestion to reuse), a
    bounded number per call so the write lock stays short."""
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        if raw.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return
        free = raw.execute("PRAGMA freelist_count").fetchone()[0]
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
        # release k pages so that (free - k) <= (pages - k) / 4
        excess = min(-(-(4 * free - pages) // 3), int(current_app.config["RETENTION_VACUUM_PAGES"]))
        if excess > 0:
            # executescript steps the pragma to its end (execute() would free one page only)
            raw.executescript(f"PRAGMA incremental_vacuum({int(excess)});")
