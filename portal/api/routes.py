"""The JSON API and the health check."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from portal.extensions import db
from portal.maintenance import load_state

bp = Blueprint("api", __name__)


@bp.route("/healthz")
def healthz():
    """Report that the app reaches its database, and the maintenance and processor state."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        state = load_state()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", error="database unreachable"), 503
    processor = "paused" if state.processing_paused else "running"
    return jsonify(status="ok", maintenance=state.enabled, event_processor=processor)

from portal.api import openapi  # noqa: E402,F401  (registers /api/v1/openapi.json)
