"""Whether the gateway is quiet: the restriction is on and no webhook call is still in flight.

``pausing`` is the moment between a save that turns the restriction on (committed: no new
event starts, no new call is made) and the last call sent before it being recorded. A call in
flight is a pending delivery some processor holds a live claim on (claimed, sent or being
sent, not yet recorded), so the count is right across processes and machines; a dead
processor's claims stop counting when they expire. A processor batch never outlives the save
that restricts it (it holds the lock the save needs), so only calls can keep it pausing.
"""

import time

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events.guard import restriction_on
from portal.extensions import db
from portal.models.events import DELIVERY_PENDING
from portal.models.tables import deliveries

RUNNING, PAUSING, PAUSED = "running", "pausing", "paused"
MAX_WAIT_SECONDS = 120
POLL_SECONDS = 0.1


def in_flight() -> int:
    """Return how many webhook calls are in flight now (claimed and not yet recorded)."""
    now = utc_now()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.status == DELIVERY_PENDING,
            # a claim also moves next_attempt_at to its end: the index narrows the scan
            deliveries.c.next_attempt_at > now,
            deliveries.c.claimed_until > now,
        )
    )


def processing() -> tuple[str, int]:
    """Return ``running``, ``pausing`` or ``paused``, and the calls in flight."""
    calls = in_flight()
    if not restriction_on():
        return RUNNING, calls
    return (PAUSING if calls else PAUSED), calls


def wait_until_paused(timeout: float) -> tuple[str, int]:
    """Return :func:`processing` once it is ``paused``, or as it is after ``timeout`` seconds.

    Each look ends the transaction first, so it sees what other processes committed.
    """
    deadline = time.monotonic() + max(0.0, min(timeout, MAX_WAIT_SECONDS))
    while True:
        db.session.rollback()
        found = processing()
        if found[0] == PAUSED or time.monotonic() >= deadline:
            return found
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
