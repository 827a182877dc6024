"""What retention purged, per client: kept so counters stay monotonic after rows are gone."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class PurgeTotals(db.Model):
    """Running totals of the rows retention deleted for one client (never decreases)."""

    __tablename__ = "purge_totals"

    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    events_processed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    events_failed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deliveries_succeeded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deliveries_failed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # the purged deliveries' latency histogram: {"counts": [per bucket], "sum": seconds}
    latency: Mapped[Any | None] = mapped_column(sa.JSON)
    last_purged_at: Mapped[datetime | None]
