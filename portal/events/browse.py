"""Reading events for the events page: filtered lists in keyset pages, one event in full."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from portal.events.runs import in_latest_run
from portal.extensions import db
from portal.models import Delivery, DeliveryAttempt, Event, Workflow

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    client_ids: list[int]
    type: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Page:
    rows: list
    older: int | None  # ``before`` of the next (older) page, None on the last one


def events_page(filters: Filters, before: int | None, size: int = PAGE_SIZE) -> Page:
    """Return newest-first events matching ``filters`` with an id below ``before``.

    Keyset pagination: every page is one index range, never an OFFSET over earlier pages.
    """
    query = sa.select(
        Event.id,
        Event.client_id,
        Event.type,
        Event.status,
        Event.received_at,
        Event.processed_at,
        Event.attempts,
        Event.last_error,
    ).where(Event.client_id.in_(filters.client_ids))
    if filters.type:
        query = query.where(Event.type == filters.type)
    if filters.status:
        query = query.where(Event.status == filters.status)
    if filters.since:
        query = query.where(Event.received_at >= filters.since)
    if filters.until:
        query = query.where(Event.received_at < filters.until)
    if before is not None:
        query = query.where(Event.id < before)
    rows = db.session.execute(query.order_by(Event.id.desc()).limit(size + 1)).all()
    older = rows[size - 1].id if len(rows) > size else None
    return Page(rows[:size], older)


def deliveries_of(event: Event) -> list[dict]:
    """Return the event's deliveries, oldest first, each with its workflow, its attempts and
    whether it belongs to the event's latest run (:mod:`portal.events.runs`)."""
    rows = db.session.execute(
        sa.select(Delivery, Workflow.name, Workflow.paused_at)
        .outerjoin(Workflow, Delivery.workflow_id == Workflow.id)
        .where(Delivery.event_id == event.id)
        .order_by(Delivery.id)
    ).all()
    ids = [row.Delivery.id for row in rows]
    attempts: dict[int, list] = {delivery_id: [] for delivery_id in ids}
    if ids:
        for attempt in db.session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(ids))
            .order_by(DeliveryAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [
        {
            "delivery": row.Delivery,
            "workflow": row.name,
            "paused": row.paused_at is not None,
            "attempts": attempts[row.Delivery.id],
            "latest": in_latest_run(row.Delivery.created_at, event.started_at),
        }
        for row in rows
    ]
