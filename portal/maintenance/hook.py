"""The request hook: apply a due scheduled start, then end the session of a blocked user."""

from flask import Flask, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user, logout_user

from portal import audit
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import live, schedule
from portal.maintenance.live import POLL_SECONDS
from portal.maintenance.rule import may_bypass
from portal.maintenance.state import FLAGS, Flags, display_message, load_state, phase, version
from portal.security import sessions

# Endpoints that work whatever the state: signing in/out, password reset, the health check.
OPEN_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.logout",
    "auth.reset_request",
    "auth.reset_password",
    "api.healthz",
}
# Endpoints that never read the session (static files, the API-key-authenticated API): the hook
# has no user to check there, so it loads neither user nor state on the ingestion hot path.
SESSIONLESS_ENDPOINTS = {"static", "api.ingest", "api.event_detail"}


def enforce_maintenance():
    """End the session of any signed-in user the rule blocks, on every request."""
    if request.endpoint in SESSIONLESS_ENDPOINTS:
        return None
    now = utc_now()
    flags = db.session.execute(FLAGS).first()
    if phase(flags, now) == "due":  # no processor needs to run for the start to happen
        schedule.start_if_due(now)
        flags = db.session.execute(FLAGS).first()
    g.maintenance_phase = phase(flags, now)
    g.maintenance_version = version(flags, now)
    if flags is None or not flags.enabled:
        if g.maintenance_phase == "notice":
            g.maintenance = load_state()  # the advance banner shows its message
        else:
            g.maintenance = Flags(
                False,
                bool(flags and flags.restrict_event_processor),
                flags.scheduled_start if flags else None,
            )
        return None
    state = load_state()
    g.maintenance = state
    if not state.enabled or not current_user.is_authenticated or may_bypass(current_user, state):
        return None
    user = current_user._get_current_object()
    sessions.end(user)  # copies of its cookies end too
    # the window's page lists these (portal.operations.timeline.SESSION_ENDED)
    audit.record(user, "auth", "session_ended", "Session ended by maintenance")
    db.session.commit()
    logout_user()  # also clears a remember-me cookie
    if request.endpoint in OPEN_ENDPOINTS:
        return None  # e.g. the login page: shown signed out, with the message
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error="maintenance", message=display_message(state), details=[]), 503
    flash("You were signed out because the gateway is in maintenance.", "warning")
    return redirect(url_for("auth.login"))


def inject_maintenance() -> dict:
    """Give templates the state, the header banner's message and the advance notice."""
    state = g.get("maintenance")
    message = display_message(state) if state is not None and state.enabled else ""
    notice = None
    if g.get("maintenance_phase") == "notice" and state is not None:
        notice = {
            "start": state.scheduled_start,
            "expected_end": state.expected_end,
            "message": display_message(state),
        }
    return {
        "maintenance": state,
        "maintenance_message": message,
        "maintenance_notice": notice,
        "maintenance_version": g.get("maintenance_version", ""),
        "live_poll_seconds": POLL_SECONDS,
        "maintenance_settings_url": maintenance_settings_url,
    }


def maintenance_settings_url() -> str | None:
    """Return where the banners link the signed-in user to manage maintenance (None: nowhere).

    A function, so only a page that shows a banner asks; the live poll renders the banners
    with it too (``live.state``).
    """
    if current_user.is_authenticated and current_user.can(CLIENT_SETTINGS_MANAGE):
        return url_for("settings.maintenance")
    return None


def hms(seconds: float | None) -> str:
    """Return a duration as H:MM:SS (a template filter)."""
    if seconds is None:
        return ""
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def init_app(app: Flask) -> None:
    app.before_request(enforce_maintenance)
    app.context_processor(inject_maintenance)
    app.add_template_filter(hms)
    live.init_app(app)
