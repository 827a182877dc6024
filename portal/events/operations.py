"""What admins do to events from the events page: retry a delivery, replay an event, resume an
endpoint. Each is audited; the caller commits its unit of work."""

import sqlalchemy as sa

from portal import audit
from portal.clock import utc_now
from portal.events import counters
from portal.extensions import db
from portal.models import Delivery, Event, User, Workflow
from portal.models.events import DELIVERY_FAILED, DELIVERY_PENDING, EVENT_QUEUED

MODULE = "events"


class NotAllowed(Exception):
    """The action does not apply to the row in its current state (the message says why)."""


def _requeue(event: Event) -> None:
    """Put a finished event back to queued, moving its counters."""
    if event.status != EVENT_QUEUED:
        counters.add(
            db.session.connection(), counters.moves([(event.client_id, event.status, EVENT_QUEUED)])
        )
        event.status = EVENT_QUEUED
        event.processed_at = None


def retry_delivery(actor: User, delivery: Delivery) -> None:
    """Make a failed delivery due now (one more attempt, same ``webhook-id``)."""
    if delivery.status != DELIVERY_FAILED:
        raise NotAllowed("Only a failed delivery can be retried.")
    if delivery.workflow_id is None:
        raise NotAllowed("The workflow of this delivery was deleted.")
    event = db.session.get(Event, delivery.event_id, with_for_update=True)
    delivery.status = DELIVERY_PENDING
    delivery.next_attempt_at = utc_now()
    delivery.finished_at = None
    _requeue(event)
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
    if event.status == EVENT_QUEUED:
        raise NotAllowed("The event is still queued; it has not finished processing.")
    before = event.status
    _requeue(event)
    event.started_at = None
    event.last_error = None
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
