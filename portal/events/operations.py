"""What admins do to events from the events page: retry a delivery, replay an event, resume an
endpoint. Each is audited; the caller commits its unit of work."""

import sqlalchemy as sa

from portal import audit
from portal.core.clock import utc_now
from portal.events import counters
from portal.events.runs import in_latest_run
from portal.extensions import db
from portal.models import Delivery, Event, User, Workflow
from portal.models.events import DELIVERY_FAILED, DELIVERY_PENDING, EVENT_QUEUED
from portal.models.tables import deliveries, events

MODULE = "events"


class NotAllowed(Exception):
    """The action does not apply to the row in its current state (the message says why)."""


def _current(event: Event):
    """Read the event's status and start from the database (locked on PostgreSQL), not from
    the session's copy."""
    return db.session.execute(
        sa.select(events.c.status, events.c.started_at)
        .where(events.c.id == event.id)
        .with_for_update()
    ).one()


def _requeue(event: Event, seen: str, **values) -> bool:
    """Put the event back to queued if its status is still ``seen``, moving its counters.

    The conditional UPDATE is the lock: of two concurrent requests that both saw ``seen``
    only one matches the row (the other waits for its write lock, on SQLite the database's,
    then finds the status changed), so the counters move once. Returns whether it matched.
    """
    statement = (
        sa.update(events)
        .where(events.c.id == event.id, events.c.status == seen)
        .values(status=EVENT_QUEUED, processed_at=None, **values)
    )
    if db.session.execute(statement).rowcount != 1:
        return False
    counters.add(db.session.connection(), counters.moves([(event.client_id, seen, EVENT_QUEUED)]))
    db.session.expire(event)
    return True


def _earlier_run(delivery: Delivery, event: Event) -> NotAllowed:
    return NotAllowed(
        f"Delivery {delivery.id} belongs to an earlier run of event {event.id} (it was "
        "replayed since); only the latest run's deliveries can be retried."
    )


def retry_delivery(actor: User, delivery: Delivery) -> None:
    """Make a failed delivery due now (one more attempt, same ``webhook-id``)."""
    if delivery.status != DELIVERY_FAILED:
        raise NotAllowed("Only a failed delivery can be retried.")
    if delivery.workflow_id is None:
        raise NotAllowed("The workflow of this delivery was deleted.")
    event = db.session.get(Event, delivery.event_id)
    if not in_latest_run(delivery.created_at, event.started_at):
        raise _earlier_run(delivery, event)
    retried = db.session.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == delivery.id, deliveries.c.status == DELIVERY_FAILED)
        .values(status=DELIVERY_PENDING, next_attempt_at=utc_now(), finished_at=None)
    ).rowcount
    if retried != 1:
        raise NotAllowed(f"Delivery {delivery.id} is already being retried.")
    db.session.expire(delivery)
    # We hold the delivery's row (PostgreSQL) or the write lock (SQLite): read the event as
    # it is now and requeue it if it had finished.
    now = _current(event)
    if not in_latest_run(delivery.created_at, now.started_at):
        raise _earlier_run(delivery, event)  # replayed meanwhile; the caller rolls back
    if now.status != EVENT_QUEUED:
        _requeue(event, now.status)
    audit.record(
        actor,
        MODULE,
        "retry_delivery",
        f"Retried delivery {delivery.id} of event {event.id}",
        before={"status": DELIVERY_FAILED},
        after={"status": DELIVERY_PENDING},
        client_id=event.client_id,
    )


def replay_event(actor: User, event: Event) -> None:
    """Run the event's workflows again: the processor makes new deliveries (new ids)."""
    before = _current(event).status
    if before == EVENT_QUEUED:
        raise NotAllowed(
            f"Event {event.id} is already queued (replayed or retried, or not finished yet)."
        )
    if not _requeue(event, before, started_at=None, last_error=None):
        raise NotAllowed(f"Event {event.id} was already queued again by someone else.")
    audit.record(
        actor,
        MODULE,
        "replay",
        f"Replayed event {event.id} ({event.type})",
        before={"status": before},
        after={"status": EVENT_QUEUED},
        client_id=event.client_id,
    )


def resume_workflow(actor: User, workflow: Workflow) -> None:
    """Close a paused endpoint's circuit: its held deliveries go out again."""
    if workflow.paused_at is None:
        raise NotAllowed("The endpoint is not paused.")
    before = {"paused_at": workflow.paused_at.isoformat(), "reason": workflow.pause_reason}
    workflow.paused_at = None
    workflow.pause_reason = None
    workflow.consecutive_failures = 0
    workflow.failing_since = None
    audit.record(
        actor,
        MODULE,
        "resume",
        f"Resumed the webhook endpoint of workflow {workflow.name}",
        before=before,
        after={"paused_at": None},
        client_id=workflow.client_id,
    )


def paused_workflows(client_ids: list[int]) -> list[Workflow]:
    """Return the paused (circuit open) workflows of these clients."""
    return list(
        db.session.scalars(
            sa.select(Workflow)
            .where(Workflow.client_id.in_(client_ids), Workflow.paused_at.is_not(None))
            .order_by(Workflow.name)
        )
    )
