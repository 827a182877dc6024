"""Due webhook calls: the restriction is read before each one; failures back off exponentially."""

import time
from datetime import timedelta

import requests
import sqlalchemy as sa
from flask import current_app

from portal.clock import utc_now
from portal.events import lease, targets
from portal.events.actions import CallOutcome, post_webhook, webhook_body
from portal.events.guard import restriction_on, stopping
from portal.events.tables import deliveries, events, workflows
from portal.extensions import db
from portal.models.events import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    EVENT_FAILED,
    EVENT_PROCESSED,
    EVENT_QUEUED,
)

PAGE = 50


def run_due(holder: str, deadline: float) -> int:
    """Make the due webhook calls until none is left or ``deadline``; return how many were made."""
    calls = 0
    allowed = current_app.config["WEBHOOK_ALLOWED_NETWORKS_PARSED"]
    with targets.guarded_session(allowed) as http:
        while time.monotonic() < deadline:
            due = _due_page()
            if not due:
                break
            for row in due:
                if time.monotonic() >= deadline or stopping.is_set():
                    return calls
                # Both checks commit or read fresh right before the call, retries included.
                if not lease.heartbeat(holder) or restriction_on():
                    return calls
                outcome = _call(http, row)
                calls += 1
                record_attempt(row.id, row.event_id, row.attempts + 1, outcome)
    return calls


def _due_page():
    query = (
        sa.select(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.attempts,
            workflows.c.url,
            workflows.c.secret,
            events.c.type,
            events.c.payload,
            events.c.source_id,
            events.c.received_at,
        )
        .select_from(deliveries.join(events).outerjoin(workflows))
        .where(deliveries.c.status == DELIVERY_PENDING, deliveries.c.next_attempt_at <= utc_now())
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(PAGE)
    )
    rows = db.session.execute(query).all()
    db.session.commit()
    return rows


def _call(http: requests.Session, row) -> CallOutcome:
    if not row.url:
        return CallOutcome(False, None, "The workflow was deleted or has no URL.")
    event = {
        "id": row.event_id,
        "type": row.type,
        "payload": row.payload,
        "source_id": row.source_id,
        "received_at": row.received_at,
    }
    body = webhook_body(event, row.id)
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    return post_webhook(http, row.url, row.secret or "", body, row.id, timeout)


def record_attempt(delivery_id: int, event_id: int, attempts: int, outcome: CallOutcome) -> None:
    """Store a call's outcome: success, a retry after backoff, or final failure (commits)."""
    config = current_app.config
    now = utc_now()
    values: dict = {
        "attempts": attempts,
        "response_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.ok:
        values.update(status=DELIVERY_SUCCEEDED, next_attempt_at=None, finished_at=now)
    elif attempts >= int(config["WEBHOOK_MAX_ATTEMPTS"]):
        values.update(status=DELIVERY_FAILED, next_attempt_at=None, finished_at=now)
    else:
        delay = float(config["WEBHOOK_BACKOFF_SECONDS"]) * 2 ** (attempts - 1)
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    db.session.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status == DELIVERY_PENDING)
        .values(**values)
    )
    db.session.execute(
        sa.update(events)
        .where(events.c.id == event_id)
        .values(attempts=events.c.attempts + 1, last_error=outcome.error)
    )
    finish_event_if_done(event_id, now)
    db.session.commit()


def finish_event_if_done(event_id: int, now) -> None:
    """Mark the event processed (or failed) once none of its deliveries is pending."""
    statuses = db.session.execute(
        sa.select(deliveries.c.status, deliveries.c.last_error).where(
            deliveries.c.event_id == event_id
        )
    ).all()
    if any(row.status == DELIVERY_PENDING for row in statuses):
        return
    failed = [row.last_error for row in statuses if row.status == DELIVERY_FAILED]
    db.session.execute(
        sa.update(events)
        .where(events.c.id == event_id, events.c.status == EVENT_QUEUED)
        .values(
            status=EVENT_FAILED if failed else EVENT_PROCESSED,
            processed_at=now,
            last_error=failed[0] if failed else None,
        )
    )
