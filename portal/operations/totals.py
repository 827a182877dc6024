"""Per-client totals of finished events and deliveries, kept cheap to read at any size.

An event's ``processed_at`` is set once, when it finishes (and its deliveries have finished by
then). Events finished at or before a client's ``counted_through`` are summed into its
:class:`ClientTotals` row; those finished later are counted live. The processor moves
``counted_through`` forward every ``TOTALS_ADVANCE_SECONDS`` to ``now - SETTLE`` (a moment after
which no running transaction can still add a finished event), so a scrape only counts the last
minute or so, never the whole table, and every worker computes the same figures from the database.
Retention only deletes events already summed, so the totals never go down.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal.clock import utc_now
from portal.events.tables import deliveries, events
from portal.extensions import db
from portal.models import Client, ClientTotals
from portal.models.events import DELIVERY_FAILED, DELIVERY_SUCCEEDED, EVENT_FAILED, EVENT_PROCESSED

SETTLE = timedelta(seconds=30)
# Delivery latency buckets: seconds from a delivery being created to it finishing.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
FINISHED = (EVENT_PROCESSED, EVENT_FAILED)
totals_t = ClientTotals.__table__
_next_advance = {"at": 0.0}  # monotonic time of this process's next advance


@dataclass
class Figures:
    """Finished events and deliveries of one client, with the latency histogram."""

    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINISHED, 0))
    deliveries: dict[str, int] = field(
        default_factory=lambda: {DELIVERY_SUCCEEDED: 0, DELIVERY_FAILED: 0}
    )
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0

    def add(self, other: "Figures") -> None:
        for key, value in other.events.items():
            self.events[key] = self.events.get(key, 0) + value
        for key, value in other.deliveries.items():
            self.deliveries[key] = self.deliveries.get(key, 0) + value
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        self.latency_sum += other.latency_sum


class seconds_between(FunctionElement):  # noqa: N801  (reads like the SQL function it is)
    """``end - start`` in seconds, on the dialects the portal supports."""

    type = sa.Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between)
def _seconds_default(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def bucket_index(seconds: float) -> int:
    """Return the index of the first latency bucket that holds ``seconds`` (last: +Inf)."""
    for index, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return index
    return len(LATENCY_BUCKETS)


def count_window(client_id: int, after: datetime | None, through: datetime | None) -> Figures:
    """Count the client's events finished in ``(after, through]`` (None: unbounded) and their
    deliveries; uses the (client_id, processed_at) index."""
    window = [events.c.client_id == client_id, events.c.status.in_(FINISHED)]
    if after is not None:
        window.append(events.c.processed_at > after)
    if through is not None:
        window.append(events.c.processed_at <= through)
    else:
        window.append(events.c.processed_at.is_not(None))
    figures = Figures()
    for status, number in db.session.execute(
        sa.select(events.c.status, sa.func.count()).where(*window).group_by(events.c.status)
    ):
        figures.events[status] = number
    seconds = sa.func.round(seconds_between(deliveries.c.created_at, deliveries.c.finished_at), 3)
    rows = db.session.execute(
        sa.select(deliveries.c.status, seconds, sa.func.count())
        .select_from(events.join(deliveries, deliveries.c.event_id == events.c.id))
        .where(*window, deliveries.c.finished_at.is_not(None))
        .group_by(deliveries.c.status, seconds)
    )
    for status, spent, number in rows:
        figures.deliveries[status] = figures.deliveries.get(status, 0) + number
        spent = max(float(spent or 0.0), 0.0)
        figures.latency[bucket_index(spent)] += number
        figures.latency_sum += spent * number
    return figures


def _stored(row) -> Figures:
    figures = Figures()
    if row is None:
        return figures
    figures.events = {EVENT_PROCESSED: row.events_processed, EVENT_FAILED: row.events_failed}
    figures.deliveries = {
        DELIVERY_SUCCEEDED: row.deliveries_succeeded,
        DELIVERY_FAILED: row.deliveries_failed,
    }
    if row.latency:
        figures.latency = list(row.latency["counts"])
        figures.latency_sum = float(row.latency["sum"])
    return figures


def advance_due() -> None:
    """Move every client's totals forward, at most every ``TOTALS_ADVANCE_SECONDS``."""
    if time.monotonic() < _next_advance["at"]:
        return
    _next_advance["at"] = time.monotonic() + float(current_app.config["TOTALS_ADVANCE_SECONDS"])
    for client_id in db.session.scalars(sa.select(Client.id)).all():
        advance(client_id)


def advance(client_id: int) -> datetime | None:
    """Sum the client's events finished since its ``counted_through`` into its totals and
    move it to ``now - SETTLE`` (commits); return ``counted_through`` as it is afterwards.

    The counting is a read; the write is one conditional UPDATE, so two processes racing
    here never add the same window twice.
    """
    row = db.session.execute(sa.select(totals_t).where(totals_t.c.client_id == client_id)).first()
    old = row.counted_through if row else None
    new = utc_now() - SETTLE
    if old is not None and new <= old:
        db.session.commit()
        return old
    figures = _stored(row)
    figures.add(count_window(client_id, old, new))
    db.session.commit()  # end the read before taking the write lock
    values = {
        "counted_through": new,
        "events_processed": figures.events[EVENT_PROCESSED],
        "events_failed": figures.events[EVENT_FAILED],
        "deliveries_succeeded": figures.deliveries.get(DELIVERY_SUCCEEDED, 0),
        "deliveries_failed": figures.deliveries.get(DELIVERY_FAILED, 0),
        "latency": {"counts": figures.latency, "sum": figures.latency_sum},
    }
    try:
        if row is None:
            db.session.execute(
                sa.insert(totals_t).values(
                    client_id=client_id, purged_events=0, purged_deliveries=0, **values
                )
            )
            moved = True
        else:
            unchanged = (
                totals_t.c.counted_through.is_(None)
                if old is None
                else totals_t.c.counted_through == old
            )
            moved = (
                db.session.execute(
                    sa.update(totals_t)
                    .where(totals_t.c.client_id == client_id, unchanged)
                    .values(values)
                ).rowcount
                == 1
            )
        db.session.commit()
    except sa.exc.IntegrityError:  # another process created the row meanwhile
        db.session.rollback()
        moved = False
    return new if moved else None


def client_figures(client_ids: list[int]) -> dict[int, tuple[Figures, object]]:
    """Return, per client id, its finished events and deliveries so far (totals plus the live
    part) and its totals row (for the purge figures; None if it has none yet)."""
    rows = {
        row.client_id: row
        for row in db.session.execute(
            sa.select(totals_t).where(totals_t.c.client_id.in_(client_ids))
        )
    }
    found = {}
    for client_id in client_ids:
        row = rows.get(client_id)
        figures = _stored(row)
        figures.add(count_window(client_id, row.counted_through if row else None, None))
        found[client_id] = (figures, row)
    return found
