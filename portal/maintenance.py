"""Who may sign in during maintenance: the rule, the state loader, and the request hook.

This is the one place that answers the question; the login view, the settings page, the
CLI and the API all call into it.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user, logout_user

from portal.extensions import db
from portal.models import AccessGroup, MaintenanceState, Role, User
from portal.models.maintenance import STATE_ID
from portal.security import sessions

DEFAULT_MESSAGE = "The gateway is undergoing maintenance. Please try again later."
# Endpoints that work whatever the state: signing in/out, the health check, key-authenticated API.
OPEN_ENDPOINTS = {"static", "auth.login", "auth.logout", "api.healthz"}
# Endpoints that never read the session (static files, the API-key-authenticated API): the hook
# has no user to check there, so it loads neither user nor state on the ingestion hot path.
SESSIONLESS_ENDPOINTS = {"static", "api.ingest", "api.event_detail"}


_table = MaintenanceState.__table__
# The two flags alone, as a Core statement: the per-request check costs one small query and
# loads the ORM state (with its bypass lists) only while maintenance is on.
FLAGS = sa.select(_table.c.enabled, _table.c.restrict_event_processor).where(
    _table.c.id == STATE_ID
)


@dataclass(frozen=True)
class Flags:
    """The state as templates and the API read it while maintenance is off."""

    enabled: bool = False
    restrict_event_processor: bool = False

    @property
    def processing_paused(self) -> bool:
        return self.enabled and self.restrict_event_processor


@dataclass
class Selection:
    """A proposed bypass selection, not saved: ``may_bypass`` reads it like the state row."""

    bypass_roles: list[Role]
    bypass_groups: list[AccessGroup]
    enabled: bool = True


def may_bypass(user: User, state: MaintenanceState | Selection) -> bool:
    """Return whether ``user`` may use the portal: always when off; while on, only holding
    a selected bypass role AND a selected bypass group."""
    if not state.enabled:
        return True
    role_ids = {role.id for role in state.bypass_roles}
    group_ids = {group.id for group in state.bypass_groups}
    return any(role.id in role_ids for role in user.roles) and any(
        group.id in group_ids for group in user.groups
    )


def load_state() -> MaintenanceState:
    """Return the instance's state row (a disabled, unsaved default if setup never ran)."""
    state = db.session.get(MaintenanceState, STATE_ID)
    if state is None:
        state = MaintenanceState(
            id=STATE_ID, enabled=False, restrict_event_processor=False, message=""
        )
    return state


def get_or_create_state() -> MaintenanceState:
    """Return the state row, adding it to the session if it does not exist yet."""
    state = db.session.get(MaintenanceState, STATE_ID)
    if state is None:
        state = MaintenanceState(
            id=STATE_ID, enabled=False, restrict_event_processor=False, message=""
        )
        db.session.add(state)
        db.session.flush()
    return state


def display_message(state: MaintenanceState) -> str:
    """Return the message to show (the admin's text, or a default one)."""
    return state.message.strip() or DEFAULT_MESSAGE


def enforce_maintenance():
    """End the session of any signed-in user the rule blocks, on every request."""
    if request.endpoint in SESSIONLESS_ENDPOINTS:
        return None
    flags = db.session.execute(FLAGS).first()
    if flags is None or not flags.enabled:
        g.maintenance = Flags(False, bool(flags and flags.restrict_event_processor))
        return None
    state = load_state()
    g.maintenance = state
    if not state.enabled or not current_user.is_authenticated or may_bypass(current_user, state):
        return None
    sessions.end(current_user._get_current_object())  # copies of its cookies end too
    db.session.commit()
    logout_user()  # also clears a remember-me cookie
    if request.endpoint in OPEN_ENDPOINTS:
        return None  # e.g. the login page: shown signed out, with the message
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error="maintenance", message=display_message(state), details=[]), 503
    flash("You were signed out because the gateway is in maintenance.", "warning")
    return redirect(url_for("auth.login"))


def inject_maintenance() -> dict:
    """Give templates the state and whether the header banner applies."""
    state = g.get("maintenance")
    message = display_message(state) if state is not None and state.enabled else ""
    return {"maintenance": state, "maintenance_message": message}


def init_app(app: Flask) -> None:
    app.before_request(enforce_maintenance)
    app.context_processor(inject_maintenance)
