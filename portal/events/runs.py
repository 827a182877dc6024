"""An event's runs: the first processing and one more per replay.

The processor starts a run by setting ``events.started_at`` and creates that run's deliveries
with the same moment as ``created_at``, so the latest run's deliveries are those created at or
after ``started_at``; a replayed event waiting for its new run (``started_at`` unset) has none.
Only the latest run decides the event's status (:mod:`.webhooks.outcomes`) and can be retried.
"""

from datetime import datetime

from portal.models.tables import deliveries, events

LATEST_RUN = deliveries.c.created_at >= events.c.started_at  # in a join of the two tables


def in_latest_run(created_at: datetime, started_at: datetime | None) -> bool:
    """Whether a delivery created at ``created_at`` belongs to the event's latest run."""
    return started_at is not None and created_at >= started_at
