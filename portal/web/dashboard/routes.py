"""The dashboard: who you are, the maintenance state and live event-processing figures."""

from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from portal.accounts.authorization import client_scope
from portal.accounts.permissions import (
    AUDIT_VIEW,
    CATALOGUE,
    CLIENT_SETTINGS_MANAGE,
    DASHBOARD_VIEW,
    EVENTS_VIEW,
    permission_required,
)
from portal.core import timefmt
from portal.maintenance import load_state, windows
from portal.operations import timeline
from portal.web.dashboard.stats import snapshot

bp = Blueprint("dashboard", __name__)
REFRESH_SECONDS = 5


@bp.route("/")
@permission_required(DASHBOARD_VIEW)
def index():
    """Show who you are, your client, the maintenance state and the processing figures."""
    state = load_state()
    stats = snapshot(current_user, state)
    scope = client_scope(current_user)
    current = windows.current_figures(state, client_id=scope)
    figures = current_user.can(EVENTS_VIEW)
    return render_template(
        "dashboard/index.html",
        user=current_user,
        stats=stats,
        refresh_seconds=REFRESH_SECONDS,
        figures_permission=CATALOGUE[EVENTS_VIEW],
        window=current,
        chart=timeline.last_hour_chart(
            current.window or timeline.last_window(), scope, timefmt.viewer_zone()
        )
        if figures
        else None,
        recap=timeline.recap(scope) if figures else None,
        windows_page=current_user.can(CLIENT_SETTINGS_MANAGE) or current_user.can(AUDIT_VIEW),
        cancelled=state.schedule_cancelled_reason
        if current_user.can(CLIENT_SETTINGS_MANAGE) and state.schedule_cancelled_at
        else None,
        cancelled_at=state.schedule_cancelled_at,
    )


@bp.route("/dashboard/stats.json")
@permission_required(DASHBOARD_VIEW)
def stats():
    """Return the dashboard's figures as JSON for the page's self-refresh."""
    response = jsonify(snapshot(current_user, load_state()))
    response.headers["Cache-Control"] = "no-store"
    return response
