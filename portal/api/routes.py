"""Event ingestion, one event's detail and the health check."""

import sqlalchemy as sa
from flask import current_app, jsonify, request

from portal import clients
from portal.accounts import tokens
from portal.accounts.authorization import visible_client_ids
from portal.api.auth import authenticate, has_bearer
from portal.api.blueprint import api_error, bp, key_client
from portal.events.guard import restriction_on
from portal.events.ingest import IngestError, parse_body, parse_events, store_events
from portal.events.lease import processor_status, webhooks_unreadable
from portal.events.lookup import event_for_client
from portal.extensions import db
from portal.maintenance import load_state


def _unauthorized():
    return api_error(401, "A valid X-API-Key header is required.")


@bp.post("/api/v1/events")
def ingest():
    """Accept one event or a batch for the key's client; answer 202 with the event ids."""
    client_id = clients.client_id_for_api_key(request.headers.get("X-API-Key"))
    if client_id is None:
        return _unauthorized()
    if not request.is_json:
        return api_error(400, "Send the events as JSON (Content-Type: application/json).")
    try:
        items = parse_events(
            parse_body(request.get_data()), current_app.config["INGEST_MAX_EVENTS"]
        )
        result = store_events(client_id, items)  # committed before we answer
    except IngestError as exc:
        return api_error(exc.status, exc.message, exc.details)
    return jsonify(
        accepted=result.accepted,
        duplicates=result.duplicates,
        event_ids=result.event_ids,
        processing="paused" if restriction_on() else "running",
    ), 202


@bp.get("/api/v1/events/<bigid:event_id>")
def event_detail(event_id: int):
    """Show one of the key's client's events with its deliveries (or, to a token with
    ``events:read``, one of its user's clients' events)."""
    if has_bearer():
        found = authenticate(tokens.EVENTS_READ)
        if not isinstance(found, tokens.Access):
            return found
        event = event_for_client(visible_client_ids(found.user), event_id)
    else:
        client = key_client()
        if client is None:
            return _unauthorized()
        event = event_for_client(client.id, event_id)
    if event is None:
        return api_error(404, "No such event.")
    return jsonify(event)


@bp.route("/healthz")
def healthz():
    """Report that the app reaches its database, and the maintenance and processor state."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        state = load_state()
        processor = processor_status(state)
        outage = webhooks_unreadable()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", error="database unreachable"), 503
    answer = {"status": "ok", "maintenance": state.enabled, "event_processor": processor}
    if outage is not None:  # the app reads its database, the processor's webhook pump cannot
        answer.update(
            status="degraded",
            webhooks="held",
            error="the webhook pump cannot read the maintenance restriction from the database",
            since=outage.restriction_unreadable_since.isoformat() + "Z",
            detail=outage.restriction_error,
        )
    return jsonify(answer)
