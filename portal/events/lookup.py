"""Read one event with its deliveries, as the API shows it."""

from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Delivery, Event


def iso(value: datetime | None) -> str | None:
    """Return a naive-UTC timestamp as ISO 8601 with a Z."""
    return value.isoformat() + "Z" if value else None


def event_for_client(client_id: int | list[int], event_id: int) -> dict | None:
    """Return the event of the client (or of one of the clients) with its deliveries, or None
    (also for another client's)."""
    client_ids = client_id if isinstance(client_id, list) else [client_id]
    event = db.session.scalar(
        sa.select(Event).where(Event.id == event_id, Event.client_id.in_(client_ids))
    )
    if event is None:
        return None
    deliveries = db.session.scalars(
        sa.select(Delivery).where(Delivery.event_id == event.id).order_by(Delivery.id)
    )
    return {
        "id": event.id,
        "type": event.type,
        "payload": event.payload,
        "source_id": event.source_id,
        "status": event.status,
        "received_at": iso(event.received_at),
        "started_at": iso(event.started_at),
        "processed_at": iso(event.processed_at),
        "attempts": event.attempts,
        "last_error": event.last_error,
        "deliveries": [delivery_as_dict(delivery) for delivery in deliveries],
    }


def delivery_as_dict(delivery: Delivery) -> dict:
    return {
        "id": delivery.id,
        "workflow_id": delivery.workflow_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "response_code": delivery.response_code,
        "last_error": delivery.last_error,
        "result": delivery.result,
        "created_at": iso(delivery.created_at),
        "finished_at": iso(delivery.finished_at),
    }
