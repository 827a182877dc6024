"""How a drain is going: its recent pace, the endpoints failing in it, and the time left.

The estimate comes from the pace of the last ``RECENT_SECONDS`` (events of the drain that
finished, failed ones included), not from the average since the lift, so a drain that slows
down says so at once; when nothing finished lately it says that it is stalled and why (the
failing endpoints and their failed calls) instead of showing a growing estimate.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import Client
from portal.models.tables import attempts, deliveries, events, workflows

RECENT_SECONDS = 60.0
SETTLING_SECONDS = 5.0  # before this, too soon after the lift to call a drain stalled
SHOWN_ENDPOINTS = 5


@dataclass(frozen=True)
class FailingEndpoint:
    workflow_id: int | None
    name: str
    failed_calls: int
    last_error: str | None
    paused: bool


def finished_since(last_held_id: int, since: datetime) -> int:
    """Return how many events of the drain (ids up to ``last_held_id``) finished since
    ``since``, processed or failed (per client: one range of its processed_at index each)."""
    client_ids = list(db.session.scalars(sa.select(Client.id)))
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(events)
        .where(
            events.c.client_id.in_(client_ids),
            events.c.processed_at >= since,
            events.c.id <= last_held_id,
        )
    )


def failing_endpoints(last_held_id: int, lifted_at: datetime) -> list[FailingEndpoint]:
    """Return the endpoints whose calls for the drain's events failed since the lift, most
    failed calls first, each with its failed calls, its latest error and whether it is paused."""
    failed = (
        sa.select(
            deliveries.c.workflow_id,
            sa.func.count().label("calls"),
            sa.func.max(attempts.c.id).label("latest"),
        )
        .select_from(attempts.join(deliveries, attempts.c.delivery_id == deliveries.c.id))
        .where(
            attempts.c.attempted_at >= lifted_at,
            attempts.c.error.is_not(None),
            deliveries.c.event_id <= last_held_id,
        )
        .group_by(deliveries.c.workflow_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            failed.c.workflow_id,
            failed.c.calls,
            workflows.c.name,
            workflows.c.paused_at,
            attempts.c.error,
        )
        .select_from(failed)
        .outerjoin(workflows, workflows.c.id == failed.c.workflow_id)
        .join(attempts, attempts.c.id == failed.c.latest)
        .order_by(failed.c.calls.desc(), failed.c.workflow_id)
        .limit(SHOWN_ENDPOINTS)
    ).all()
    return [
        FailingEndpoint(
            row.workflow_id,
            row.name or "(deleted workflow)",
            int(row.calls),
            row.error,
            row.paused_at is not None,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Pace:
    eta_seconds: float | None  # None: estimating, or stalled
    per_second: float | None  # events of the drain finished per second lately
    stalled: bool  # nothing finished in the recent window (after settling)
    failing: list[FailingEndpoint]

    @property
    def failed_calls(self) -> int:
        return sum(endpoint.failed_calls for endpoint in self.failing)


def pace(last_held_id: int | None, lifted_at: datetime, remaining: int) -> Pace:
    """Return the drain's recent pace, its time left and its failing endpoints."""
    if last_held_id is None or not remaining:
        return Pace(None, None, False, [])
    now = utc_now()
    elapsed = (now - lifted_at).total_seconds()
    span = min(RECENT_SECONDS, elapsed)
    failing = failing_endpoints(last_held_id, lifted_at)
    if span <= 0:
        return Pace(None, None, False, failing)
    done = finished_since(last_held_id, now - timedelta(seconds=span))
    if not done:
        return Pace(None, 0.0, elapsed >= SETTLING_SECONDS, failing)
    rate = done / span
    return Pace(remaining / rate, rate, False, failing)
