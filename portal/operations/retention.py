"""Retention: the processor deletes processed and failed events older than their client's
retention period, with their deliveries, in small batches.

Each batch is its own short write transaction opened like any other processor step (we hold
the lease and the restriction is off), so ingestion waits at most one batch for the lock, and
the pause after a batch lets waiting writers in. Queued events are never touched: the WHERE
clause of the DELETE repeats the status check. The metrics' counters were counted when each
event and delivery finished (:mod:`portal.operations.totals`), so deleting the rows does not
lower them; what was purged is counted in the client's totals row (not audited row by row).
"""

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from portal.accounts import AccountError
from portal.core.clock import utc_now
from portal.events import counters
from portal.events.guard import begin_guarded, stopping
from portal.extensions import db
from portal.models import Client
from portal.models.tables import deliveries, events
from portal.operations.totals import FINISHED, totals_t

log = logging.getLogger(__name__)
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 3650, 30
PAUSE_FACTOR = 2.0  # pause after a batch, in multiples of the batch's own duration
_IDS = sa.bindparam("ids", expanding=True)
# this process's next look for expired rows (monotonic) and events purged since pages were freed
_next_look = {"at": 0.0, "freed": 0}


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
    _next_look["freed"] += purged
    if finished:
        _next_look["at"] = time.monotonic() + float(config["RETENTION_CHECK_SECONDS"])
        if _next_look["freed"]:
            _next_look["freed"] = 0
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
            # Let the writers that queued up behind this batch (ingestion) have the lock: the
            # purge holds it at most a third of the time.
            time.sleep(max(PAUSE_FACTOR * (time.monotonic() - started), 0.01))
    if total:
        log.info("Retention purged %d events.", total)
    return total, True


def purge_batch(holder: str, client_id: int, cutoff: datetime, size: int) -> int | None:
    """Delete up to ``size`` of the client's events finished before ``cutoff``, with their
    deliveries, in one transaction; return how many (None: not allowed to work now)."""
    if not begin_guarded(holder):
        return None
    # Locked (PostgreSQL) so that no replay requeues one of them before it is deleted.
    rows = db.session.execute(
        sa.select(events.c.id, events.c.status)
        .where(
            events.c.client_id == client_id,
            events.c.processed_at < cutoff,
            events.c.status.in_(FINISHED),
        )
        .order_by(events.c.processed_at)
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        db.session.commit()
        return 0
    ids = [row.id for row in rows]
    by_status = Counter(row.status for row in rows)  # what the per-status figures lose
    gone = db.session.execute(
        sa.delete(deliveries).where(deliveries.c.event_id.in_(_IDS)), {"ids": ids}
    ).rowcount
    purged = db.session.execute(
        sa.delete(events).where(events.c.id.in_(_IDS), events.c.status.in_(FINISHED)),
        {"ids": ids},
    ).rowcount
    # The dashboard's failed figure (portal.events.counters): the rows were locked above and
    # every one of them is deleted, so the counts by status are exact.
    counters.add(
        db.session.connection(),
        {(client_id, status): -number for status, number in by_status.items()},
        shard=0,
    )
    _count_purge(client_id, purged, gone)
    db.session.commit()
    log.debug("Purged %s of client %s.", dict(by_status), client_id)
    return purged


def _count_purge(client_id: int, purged: int, gone: int) -> None:
    """Add to the client's purge totals, creating its row on the first purge."""
    values = {"purged_events": purged, "purged_deliveries": gone, "last_purged_at": utc_now()}
    insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(totals_t)
    db.session.execute(
        insert.values(client_id=client_id, **values).on_conflict_do_update(
            index_elements=[totals_t.c.client_id],
            set_={
                "purged_events": totals_t.c.purged_events + purged,
                "purged_deliveries": totals_t.c.purged_deliveries + gone,
                "last_purged_at": values["last_purged_at"],
            },
        )
    )


def purge_summary(client_ids: list[int]) -> dict[int, dict]:
    """Return, per client id, the events retention purged and when it last did (dashboard)."""
    rows = {
        row.client_id: row
        for row in db.session.execute(
            sa.select(totals_t).where(totals_t.c.client_id.in_(client_ids))
        )
    }
    summary = {}
    for client_id in client_ids:
        row = rows.get(client_id)
        last = row.last_purged_at if row else None
        summary[client_id] = {
            "purged": row.purged_events if row else 0,
            "last_purge": last.strftime("%Y-%m-%d %H:%M:%S") if last else "",
            "last_purged_at": last,
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
