"""History samples: the processor's figures every ``HISTORY_SAMPLE_SECONDS``, for the charts.

The lease holder records, after a round, one row per client and one for every client
together (``client_id`` None): its held and queued events and its finished deliveries (both
read from the event counters, one grouped SUM whatever the size of the tables), and its
webhook calls on the wire (the pump's own tally). Never a COUNT over events: a sample must
cost next to nothing beside a round.

The retention purge keeps the table bounded: samples older than ``HISTORY_KEEP_HOURS`` go,
except those of a maintenance window (and its drain), which are merged into one per
``HISTORY_COARSE_SECONDS`` instead and kept as long as the window is.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.core.clock import utc_now
from portal.events import counters
from portal.events.guard import restriction_on
from portal.extensions import db
from portal.models import Client, HistorySample, MaintenanceWindow
from portal.models.events import DELIVERY_FAILED, DELIVERY_SUCCEEDED, EVENT_QUEUED

samples = HistorySample.__table__
DELIVERED = counters.finished_delivery(DELIVERY_SUCCEEDED)
FAILED = counters.finished_delivery(DELIVERY_FAILED)
SAMPLED = (EVENT_QUEUED, DELIVERED, FAILED)
# a window's samples: from a little before its start to a little after its drain ended
WINDOW_MARGIN = timedelta(minutes=5)
PURGE_SECONDS = 60.0
# monotonic times of this process's next sample and next purge
_next = {"at": 0.0, "purge": 0.0}
EPOCH = datetime(1970, 1, 1)


def record_due(in_flight: Mapping[int, int] | None = None) -> bool:
    """Record a sample if ``HISTORY_SAMPLE_SECONDS`` have passed since this process's last."""
    seconds = float(current_app.config["HISTORY_SAMPLE_SECONDS"])
    now = time.monotonic()
    if seconds <= 0 or now < _next["at"]:
        return False
    _next["at"] = now + seconds
    record(in_flight or {}, step=max(int(round(seconds)), 1))
    return True


def record(in_flight: Mapping[int, int], step: int, at: datetime | None = None) -> None:
    """Record one sample of every client and of all together (commits)."""
    at = at or utc_now()
    ids = list(db.session.scalars(sa.select(Client.id)))
    figures = counters.figures(ids, SAMPLED)
    restricted = restriction_on()
    total = {"queued": 0, "in_flight": 0, "delivered": 0, "failed": 0}
    rows = []
    for client_id in ids:
        found = figures[client_id]
        row = {
            "queued": found[EVENT_QUEUED],
            "in_flight": int(in_flight.get(client_id, 0)),
            "delivered": found[DELIVERED] + found[FAILED],
            "failed": found[FAILED],
        }
        for name, value in row.items():
            total[name] += value
        rows.append(row | {"client_id": client_id})
    rows.append(total | {"client_id": None})
    common = {"taken_at": at, "step": step, "restricted": restricted}
    db.session.execute(sa.insert(samples), [row | common for row in rows])
    db.session.commit()


@dataclass
class Point:
    """One point of a chart: the figures at ``at`` and over the ``seconds`` before it."""

    at: datetime
    seconds: float
    queued: int
    in_flight: int
    per_second: float
    failures: int
    restricted: bool


def points(start: datetime, end: datetime, client_id: int | None, most: int = 360) -> list[Point]:
    """Return the chart points between ``start`` and ``end`` of one client (None: all
    together), at most ``most`` of them: the samples of each ``1/most`` of the time merged in
    the database (the largest backlog and calls in flight, the running totals at its end), so
    a day of samples costs a few hundred rows whatever the step."""
    scope = samples.c.client_id.is_(None) if client_id is None else samples.c.client_id == client_id
    span = max((end - start).total_seconds(), 1.0)
    width = max(int(-(-span // most)), 1)  # seconds per point
    slot = _slot(samples.c.taken_at, start, width)
    t = samples.c
    rows = db.session.execute(
        sa.select(
            sa.func.max(t.taken_at).label("at"),
            sa.func.min(t.taken_at).label("first_at"),
            sa.func.max(t.queued).label("queued"),
            sa.func.max(t.in_flight).label("in_flight"),
            # running totals only grow: the largest is the bucket's last
            sa.func.max(t.delivered).label("delivered"),
            sa.func.min(t.delivered).label("first_delivered"),
            sa.func.max(t.failed).label("failed"),
            sa.func.min(t.failed).label("first_failed"),
            sa.func.max(sa.cast(t.restricted, sa.Integer)).label("restricted"),
        )
        .where(scope, t.taken_at.between(start, end))
        .group_by(slot)
        .order_by(slot)
    ).all()
    if not rows:
        return []
    before = db.session.execute(
        sa.select(t.taken_at, t.delivered, t.failed)
        .where(scope, t.taken_at < start)
        .order_by(t.taken_at.desc())
        .limit(1)
    ).first()
    # the first point counts from the sample before (or from its own first sample)
    base = (before.taken_at, before.delivered, before.failed) if before else None
    first = rows[0]
    base = base or (first.first_at, first.first_delivered, first.first_failed)
    result = []
    for row in rows:
        seconds = (_naive(row.at) - _naive(base[0])).total_seconds()
        delivered, failed = row.delivered - base[1], row.failed - base[2]
        result.append(
            Point(
                at=_naive(row.at),
                seconds=seconds,
                queued=int(row.queued),
                in_flight=int(row.in_flight),
                # a counter reset (a client deleted) is not a negative rate
                per_second=max(delivered, 0) / seconds if seconds > 0 else 0.0,
                failures=max(failed, 0),
                restricted=bool(row.restricted),
            )
        )
        base = (row.at, row.delivered, row.failed)
    return result


def _slot(column, start: datetime, width: int) -> sa.ColumnElement:
    """The number of the ``width``-second stretch after ``start`` of a naive UTC timestamp
    column (whole seconds), on SQLite and PostgreSQL."""
    origin = int((start - EPOCH).total_seconds())
    if db.engine.dialect.name == "postgresql":
        return sa.func.floor((sa.extract("epoch", column) - origin) / width)  # a double
    # SQLite: strftime('%s') is whole seconds; integer division of non-negative values floors
    return (sa.cast(sa.func.strftime("%s", column), sa.Integer) - origin) // width


def _naive(value) -> datetime:
    # SQLite hands an aggregate of a DateTime column back as its text
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def window_span(window: MaintenanceWindow, now: datetime) -> tuple[datetime, datetime]:
    """Return the stretch a window's samples cover: from its start to its drain's end (now
    while it or a drain goes on), with a margin either side."""
    end = window.ended_at
    for period in window.periods:
        if period.ended_at is None or (period.drained_at is None):
            end = None
            break
        end = max(end or period.drained_at, period.drained_at)
    return window.started_at - WINDOW_MARGIN, (end + WINDOW_MARGIN) if end else now


def purge_due() -> int:
    """Purge old samples (:func:`purge`) at most once a minute; return the rows deleted."""
    if time.monotonic() < _next["purge"]:
        return 0
    _next["purge"] = time.monotonic() + PURGE_SECONDS
    return purge()


def purge(now: datetime | None = None) -> int:
    """Delete samples older than ``HISTORY_KEEP_HOURS`` outside every window, and merge the
    old ones of windows into the coarse step; return the rows deleted (commits)."""
    config = current_app.config
    now = now or utc_now()
    cutoff = now - timedelta(hours=float(config["HISTORY_KEEP_HOURS"]))
    coarse = int(config["HISTORY_COARSE_SECONDS"])
    kept = []
    for window in db.session.scalars(sa.select(MaintenanceWindow)):
        start, end = window_span(window, now)
        kept.append((start, end))
        if end < cutoff:
            _coarsen(start, end, coarse)
    outside = samples.c.taken_at < cutoff
    for start, end in kept:
        outside &= ~samples.c.taken_at.between(start, end)
    deleted = db.session.execute(sa.delete(samples).where(outside)).rowcount
    db.session.commit()
    return deleted


def _coarsen(start: datetime, end: datetime, coarse: int) -> None:
    """Merge the finer samples between ``start`` and ``end`` into one per ``coarse`` seconds
    and client: the largest backlog and calls in flight, the running totals at its end."""
    fine = db.session.execute(
        sa.select(samples)
        .where(samples.c.taken_at.between(start, end), samples.c.step < coarse)
        .order_by(samples.c.taken_at)
    ).all()
    if not fine:
        return
    merged: dict[tuple, dict] = {}
    for row in fine:
        slot = int((row.taken_at - start).total_seconds() // coarse)
        into = merged.setdefault((row.client_id, slot), {"client_id": row.client_id})
        into["taken_at"] = row.taken_at  # the last sample's time and totals
        into["delivered"], into["failed"] = row.delivered, row.failed
        into["queued"] = max(into.get("queued", 0), row.queued)
        into["in_flight"] = max(into.get("in_flight", 0), row.in_flight)
        into["restricted"] = into.get("restricted", False) or row.restricted
        into["step"] = coarse
    ids = [row.id for row in fine]
    for first in range(0, len(ids), 500):
        db.session.execute(sa.delete(samples).where(samples.c.id.in_(ids[first : first + 500])))
    db.session.execute(sa.insert(samples), list(merged.values()))
