"""Per-client totals: what retention purged. (What finished is counted in the event counters
since migration 0010; the older columns here are what 0010 moved there.)"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


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
