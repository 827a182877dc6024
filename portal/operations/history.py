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

from portal.clock import utc_now
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
    together), at most ``most`` of them: neighbouring samples merged when there are more (the
    largest backlog and calls in flight, the deliveries and failures added up)."""
    scope = samples.c.client_id.is_(None) if client_id is None else samples.c.client_id == client_id
    columns = (samples.c.taken_at, samples.c.queued, samples.c.in_flight, samples.c.delivered)
    columns += (samples.c.failed, samples.c.restricted)
    before = db.session.execute(
        sa.select(*columns)
        .where(scope, samples.c.taken_at < start)
        .order_by(samples.c.taken_at.desc())
        .limit(1)
    ).first()
    rows = db.session.execute(
        sa.select(*columns)
        .where(scope, samples.c.taken_at.between(start, end))
        .order_by(samples.c.taken_at)
    ).all()
    if not rows:
        return []
    size = -(-len(rows) // most)  # samples per point
    previous = before
    result = []
    for first in range(0, len(rows), size):
        group = rows[first : first + size]
        last = group[-1]
        base = previous if previous is not None else group[0]  # the first: no rate yet
        seconds = (last.taken_at - base.taken_at).total_seconds()
        delivered, failed = last.delivered - base.delivered, last.failed - base.failed
        result.append(
            Point(
                at=last.taken_at,
                seconds=seconds,
                queued=max(row.queued for row in group),
                in_flight=max(row.in_flight for row in group),
                # a counter reset (a client deleted) is not a negative rate
                per_second=max(delivered, 0) / seconds if seconds > 0 else 0.0,
                failures=max(failed, 0),
                restricted=any(row.restricted for row in group),
            )
        )
        previous = last
    return result


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
