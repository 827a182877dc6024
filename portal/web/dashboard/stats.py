"""Figures of the live dashboard: per-client counts, the processor state and the latest rows.

Queued, held and failed come from the event counters (:mod:`portal.events.counters`, whose
``client_counts`` metrics reads too), so they cost the same with a million held events as with
none.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from portal.accounts.authorization import is_instance_admin, visible_clients
from portal.accounts.permissions import EVENTS_VIEW
from portal.core import timefmt
from portal.core.clock import utc_now
from portal.events import counters
from portal.events.lease import processor_status, webhooks_unreadable
from portal.events.operations import paused_workflows
from portal.extensions import db
from portal.models import Client, Delivery, Event, MaintenanceState, User, Workflow
from portal.operations.retention import purge_summary

LATEST_ROWS = 10
PROCESSOR_LABELS = {
    "running": "Running",
    "paused": "Paused by maintenance",
    "stopped": "No active processor",
}
# While processing is paused every queued event is held: one figure, its state in the label
# (two counters for the same events read as twice as many).
QUEUED_LABELS = {False: "Queued", True: "Queued — held by maintenance"}
WEBHOOKS_HELD = (
    "Webhooks are held: the database is unreachable for the processor's webhook pump "
    "(it cannot read the maintenance state since {since}). Calls resume by themselves "
    "once it reads again."
)


def _of_clients(query: sa.Select, client_ids: list[int] | None) -> sa.Select:
    # No filter when every client is visible: the newest rows then come straight off the
    # primary key instead of a sort over every event of every client.
    return query if client_ids is None else query.where(Event.client_id.in_(client_ids))


def latest_events(client_ids: list[int] | None, names: dict[int, str]) -> list[dict[str, Any]]:
    """Return the newest events of these clients (None: of all clients), newest first."""
    query = sa.select(Event.id, Event.client_id, Event.type, Event.status, Event.received_at)
    rows = db.session.execute(
        _of_clients(query, client_ids).order_by(Event.id.desc()).limit(LATEST_ROWS)
    )
    return [
        {
            "id": row.id,
            "client": names[row.client_id],
            "type": row.type,
            "status": row.status,
            "received": _stamp(row.received_at),
            "received_html": _moment(row.received_at),
        }
        for row in rows
    ]


def latest_deliveries(client_ids: list[int] | None, names: dict[int, str]) -> list[dict[str, Any]]:
    """Return the newest deliveries for these clients' events (None: all), newest first."""
    query = (
        sa.select(
            Delivery.id,
            Delivery.status,
            Delivery.attempts,
            Delivery.response_code,
            Delivery.created_at,
            Event.client_id,
            Event.type,
            Workflow.name,
        )
        .join(Event, Delivery.event_id == Event.id)
        .outerjoin(Workflow, Delivery.workflow_id == Workflow.id)
    )
    rows = db.session.execute(
        _of_clients(query, client_ids).order_by(Delivery.id.desc()).limit(LATEST_ROWS)
    )
    return [
        {
            "id": row.id,
            "client": names[row.client_id],
            "workflow": row.name or "(deleted workflow)",
            "event_type": row.type,
            "status": row.status,
            "attempts": row.attempts,
            "response_code": row.response_code,
            "created": _stamp(row.created_at),
            "created_html": _moment(row.created_at),
        }
        for row in rows
    ]


def snapshot(user: User, state: MaintenanceState) -> dict[str, Any]:
    """Return everything the dashboard shows about event processing, for HTML and JSON."""
    now = utc_now()
    processor = processor_status(state)
    data: dict[str, Any] = {
        "generated_at": _stamp(now),
        "generated_html": _moment(now, now),
        "maintenance": {"enabled": state.enabled, "processing_paused": state.processing_paused},
        "processor": {"state": processor, "label": PROCESSOR_LABELS[processor]},
        "queued_label": QUEUED_LABELS[state.processing_paused],
        "webhooks_held": _webhooks_held(),
        "figures": user.can(EVENTS_VIEW),
        "clients": [],
        "events": [],
        "deliveries": [],
        "paused_endpoints": [],
    }
    if not data["figures"]:
        return data
    clients: list[Client] = visible_clients(user)
    ids = [client.id for client in clients]
    names = {client.id: client.name for client in clients}
    counts = counters.client_counts(ids, state.processing_paused, now)
    purged = purge_summary(ids)
    for figures in purged.values():
        figures["last_purge_html"] = _moment(figures.pop("last_purged_at"), now)
    data["clients"] = [
        {"id": c.id, "name": c.name, **counts[c.id], **purged[c.id]} for c in clients
    ]
    shown = None if is_instance_admin(user) else ids  # visible_clients: all of them
    data["events"] = latest_events(shown, names)
    data["deliveries"] = latest_deliveries(shown, names)
    data["paused_endpoints"] = [
        {
            "id": flow.id,
            "name": flow.name,
            "client": names[flow.client_id],
            "reason": flow.pause_reason,
        }
        for flow in paused_workflows(ids)
    ]
    return data


def _webhooks_held() -> str:
    outage = webhooks_unreadable()
    if not outage:
        return ""
    return WEBHOOKS_HELD.format(since=timefmt.text(outage.restriction_unreadable_since, True))


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _moment(value: datetime | None, now: datetime | None = None) -> str:
    """Return a time as the page shows it (markup, in the viewer's zone), for the HTML and
    for the page's self-refresh, which puts it in place as it is."""
    return timefmt.moment(value, seconds=True, now=now)
