"""Per-client totals: what retention purged. (What finished is counted in the event counters
since migration 0010; the older columns here are what 0010 moved there.)"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import BigId


class ClientTotals(db.Model):
    """Totals of one client: the purge figures. ``counted_through``, ``events_*``,
    ``deliveries_*`` and ``latency`` are no longer read (migration 0010 moved them into the
    event counters)."""

    __tablename__ = "client_totals"

    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    counted_through: Mapped[datetime | None]
    events_processed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    events_failed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deliveries_succeeded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deliveries_failed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # delivery latency histogram: {"counts": [per bucket, the last one +Inf], "sum": seconds}
    latency: Mapped[Any | None] = mapped_column(sa.JSON)
    purged_events: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    purged_deliveries: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_purged_at: Mapped[datetime | None]


class HistorySample(db.Model):
    """The processor's figures at one moment, of one client (``client_id`` None: every
    client's together): the chart history behind the window page and the dashboard.

    ``queued`` counts held and queued events (``restricted`` says whether they were held);
    ``delivered`` and ``failed`` are the running totals of finished deliveries, so a rate is the
    difference of two samples and a missing sample loses nothing. ``step`` is the seconds one
    sample stands for (coarser for finished windows, see :mod:`portal.operations.history`).
    """

    __tablename__ = "history_samples"
    __table_args__ = (sa.Index("ix_history_samples_client_taken", "client_id", "taken_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(index=True)
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(default=10)
    queued: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    in_flight: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    failed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    restricted: Mapped[bool] = mapped_column(default=False)
