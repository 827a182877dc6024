"""The events API for recovery scripts (personal access tokens): list the events of the clients
the token's user may see, replay an event, retry a delivery, resume a paused endpoint.

The writes are the events page's buttons (:mod:`portal.events.operations`): the same checks,
row locks and audit entry (naming the token). Under the processor restriction they act as the
buttons do: the work is queued and held until the restriction is lifted (``processing``).
Another client's row answers 404 exactly like a missing one.
"""

import sqlalchemy as sa
from flask import g, jsonify, request

from portal.accounts import tokens
from portal.accounts.authorization import in_scope, visible_clients
from portal.api.auth import token_required
from portal.api.blueprint import api_error, bp
from portal.api.params import BadField, moment, single_values, whole_number
from portal.core.inputs import MAX_BIG_ID
from portal.events import browse, operations
from portal.events.guard import restriction_on
from portal.events.lookup import delivery_as_dict, event_for_client, iso
from portal.extensions import db
from portal.models import Delivery, Event, User, Workflow
from portal.models.events import EVENT_FAILED, EVENT_PROCESSED, EVENT_QUEUED

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
STATUSES = (EVENT_QUEUED, EVENT_PROCESSED, EVENT_FAILED)
PARAMETERS = (
    "status",
    "type",
    "client",
    "received_after",
    "received_before",
    "before",
    "limit",
)


def _processing() -> str:
    return "paused" if restriction_on() else "running"


@bp.get("/api/v1/events")
@token_required(tokens.EVENTS_READ)
def list_events():
    """List the events of the token's user's clients, newest first, in pages (``before``)."""
    user: User = g.api_token.user
    clients = visible_clients(user)
    try:
        filters, before, limit = _parse(clients)
    except BadField as exc:
        return api_error(400, f"{exc.field}: {exc}", [exc.field])
    page = browse.events_page(filters, before, limit)
    names = {client.id: client.name for client in clients}
    processing = _processing()
    return jsonify(
        events=[
            {
                "id": row.id,
                "client_id": row.client_id,
                "client": names[row.client_id],
                "type": row.type,
                "status": row.status,
                "held": processing == "paused" and row.status == EVENT_QUEUED,
                "received_at": iso(row.received_at),
                "processed_at": iso(row.processed_at),
                "attempts": row.attempts,
                "last_error": row.last_error,
            }
            for row in page.rows
        ],
        next_before=page.older,
        processing=processing,
    )


def _parse(clients) -> tuple[browse.Filters, int | None, int]:
    values = single_values(request.args, PARAMETERS)
    status = values.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadField("status", f"one of {', '.join(STATUSES)}.")
    kind = values.get("type") or None
    if kind is not None and len(kind) > 200:
        raise BadField("type", "at most 200 characters.")
    client_ids = [client.id for client in clients]
    if values.get("client"):
        client_ids = [_client_id(values["client"], clients)]
    since = until = None
    if values.get("received_after"):
        since = moment("received_after", values["received_after"])
    if values.get("received_before"):
        until = moment("received_before", values["received_before"])
    before = None
    if values.get("before"):
        before = whole_number("before", values["before"], 1, MAX_BIG_ID)
    limit = DEFAULT_LIMIT
    if values.get("limit"):
        limit = whole_number("limit", values["limit"], 1, MAX_LIMIT)
    filters = browse.Filters(client_ids, kind, status, since, until)
    return filters, before, limit


def _client_id(text: str, clients) -> int:
    """Return the id of the visible client named or numbered ``text``; an unknown and an
    invisible client get the same answer."""
    for client in clients:
        if text == str(client.id) or text.casefold() == client.name.casefold():
            return client.id
    raise BadField("client", "not a client you may see (give its id or its name).")


def _refused(refusal: operations.NotAllowed):
    db.session.rollback()
    return api_error(409, str(refusal))


def _not_found(what: str):
    return api_error(404, f"No such {what}.")


@bp.post("/api/v1/events/<bigid:event_id>/replay")
@token_required(tokens.EVENTS_WRITE)
def replay_event(event_id: int):
    """Queue the event again so its workflows run anew (the page's Replay button)."""
    user: User = g.api_token.user
    event = db.session.get(Event, event_id)
    if event is None or not in_scope(user, event.client_id):
        return _not_found("event")
    try:
        operations.replay_event(user, event)
    except operations.NotAllowed as refusal:
        return _refused(refusal)
    db.session.commit()
    return jsonify(event=event_for_client(event.client_id, event_id), processing=_processing())


@bp.post("/api/v1/deliveries/<bigid:delivery_id>/retry")
@token_required(tokens.EVENTS_WRITE)
def retry_delivery(delivery_id: int):
    """Make a failed delivery of the latest run due now (the page's Retry button)."""
    user: User = g.api_token.user
    found = db.session.execute(
        sa.select(Delivery, Event.client_id)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if found is None or not in_scope(user, found.client_id):
        return _not_found("delivery")
    delivery = found.Delivery
    try:
        operations.retry_delivery(user, delivery)
    except operations.NotAllowed as refusal:
        return _refused(refusal)
    db.session.commit()
    return jsonify(
        delivery=delivery_as_dict(delivery) | {"event_id": delivery.event_id},
        processing=_processing(),
    )


@bp.post("/api/v1/workflows/<int:workflow_id>/resume")
@token_required(tokens.EVENTS_WRITE)
def resume_workflow(workflow_id: int):
    """Close a paused endpoint's circuit (the page's Resume button)."""
    user: User = g.api_token.user
    workflow = db.session.get(Workflow, workflow_id)
    if workflow is None or not in_scope(user, workflow.client_id):
        return _not_found("workflow")
    try:
        operations.resume_workflow(user, workflow)
    except operations.NotAllowed as refusal:
        return _refused(refusal)
    db.session.commit()
    return jsonify(
        workflow={
            "id": workflow.id,
            "name": workflow.name,
            "client_id": workflow.client_id,
            "paused": workflow.paused_at is not None,
        },
        processing=_processing(),
    )
