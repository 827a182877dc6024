"""Per-client totals of finished events and deliveries for ``/metrics``, cheap at any size.

Every finish is counted in the transaction that records it, in the event counters
(:mod:`portal.events.counters`: ``ev:<status>``, ``dl:<status>``, ``lat:<bucket>``,
``lat:ms``): an event finishing (again, after a replay or a retry) and a delivery finishing
(again, after a retry) each add one. Nothing is counted later from the rows, so a replay never
counts an event's old deliveries again and no figure depends on when it is read. Retention and
deleting rows never lower them; deleting a client deletes its counters.
:class:`~portal.models.ClientTotals` keeps what retention purged.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.events import counters
from portal.extensions import db
from portal.models import ClientTotals
from portal.models.events import DELIVERY_FAILED, DELIVERY_SUCCEEDED, EVENT_FAILED, EVENT_PROCESSED

LATENCY_BUCKETS = counters.LATENCY_BUCKETS
bucket_index = counters.bucket_index
FINISHED = (EVENT_PROCESSED, EVENT_FAILED)
DELIVERED = (DELIVERY_SUCCEEDED, DELIVERY_FAILED)
totals_t = ClientTotals.__table__
NAMES = (
    [counters.finished_event(status) for status in FINISHED]
    + [counters.finished_delivery(status) for status in DELIVERED]
    + [counters.latency_bucket(index) for index in range(len(LATENCY_BUCKETS) + 1)]
    + [counters.LATENCY_MS]
)


@dataclass
class Figures:
    """Finished events and deliveries of one client, with the latency histogram."""

    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINISHED, 0))
    deliveries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DELIVERED, 0))
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0

    def add(self, other: "Figures") -> None:
        for key, value in other.events.items():
            self.events[key] = self.events.get(key, 0) + value
        for key, value in other.deliveries.items():
            self.deliveries[key] = self.deliveries.get(key, 0) + value
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        self.latency_sum += other.latency_sum


def _figures(found: dict[str, int]) -> Figures:
    figures = Figures()
    figures.events = {status: found[counters.finished_event(status)] for status in FINISHED}
    figures.deliveries = {status: found[counters.finished_delivery(status)] for status in DELIVERED}
    figures.latency = [found[counters.latency_bucket(i)] for i in range(len(figures.latency))]
    figures.latency_sum = found[counters.LATENCY_MS] / 1000.0
    return figures


def client_figures(client_ids: list[int]) -> dict[int, tuple[Figures, object]]:
    """Return, per client id, its finished events and deliveries so far and its totals row
    (for the purge figures; None if it has none yet)."""
    rows = {
        row.client_id: row
        for row in db.session.execute(
            sa.select(totals_t).where(totals_t.c.client_id.in_(client_ids))
        )
    }
    found = counters.figures(client_ids, NAMES)
    return {cid: (_figures(found[cid]), rows.get(cid)) for cid in client_ids}
